/* measure CMD ARGS...: runs CMD (stdin and environment inherited, stdout to
 * ours, stderr to /dev/null) and prints "MEASURE secs=S peak_rss_kib=K
 * status=N". A small C launcher, so that the child's ru_maxrss does not
 * include a large parent's memory (Linux folds the pre-exec image's peak
 * into the exec'd process's). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: measure CMD [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) dup2(dn, 2);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid) {
        perror("measure");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    fflush(stdout);
    printf("MEASURE secs=%.6f peak_rss_kib=%ld status=%d\n", secs, ru.ru_maxrss, status);
    return 0;
}
