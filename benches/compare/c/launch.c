/* launch: how `compare` starts a C case. `launch [--preload LIB] -- PROG
 * ARGS...` forks, sets LD_PRELOAD=LIB (or removes it) in the child only,
 * execs PROG and waits for it with wait4; after PROG has exited it prints
 *   LAUNCH status=<wait status> maxrss_kib=<ru_maxrss> wall=<seconds>
 * on stdout. Why a launcher: a process's ru_maxrss keeps the high-water
 * mark of the memory it had before exec, so a program started straight
 * from the driver would report at least the driver's own RSS (3.4 MiB
 * here), hiding the small programs' figures; forked from this small
 * process, that floor is a few hundred KiB. The child dies with the
 * launcher (PR_SET_PDEATHSIG), so a time limit that kills the launcher
 * kills the program too. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *preload = NULL;
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--preload") == 0) {
        preload = argv[i + 1];
        i += 2;
    }
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
        fprintf(stderr, "usage: launch [--preload LIB] -- PROG ARGS...\n");
        return 2;
    }
    char **prog = &argv[i + 1];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("launch: fork");
        return 2;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(127);
        }
        if (preload != NULL) {
            setenv("LD_PRELOAD", preload, 1);
        } else {
            unsetenv("LD_PRELOAD");
        }
        execvp(prog[0], prog);
        fprintf(stderr, "launch: exec %s failed\n", prog[0]);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0) {
        /* EINTR: wait again. */
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("LAUNCH status=%d maxrss_kib=%ld wall=%.6f\n", status, ru.ru_maxrss, wall);
    return 0;
}
