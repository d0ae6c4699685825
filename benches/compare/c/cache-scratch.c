/* cache-scratch (after Hoard's cache-scratch, our own C version with our
 * own parameters): the main thread mallocs one SIZE-byte object per thread,
 * back to back; each thread frees its object, then ITERS times mallocs an
 * object, writes every byte REPS times and frees it. An allocator that
 * hands a thread memory on a cache line another thread writes loses
 * throughput to false sharing. Usage: cache-scratch [threads=2]
 * [iters=1000000] [size=8] [reps=10] */
#include <pthread.h>
#include "common.h"

struct arg {
    char *obj;
    long iters;
    int size, reps;
};

static void *worker(void *a_) {
    struct arg *a = a_;
    free(a->obj);
    for (long i = 0; i < a->iters; i++) {
        volatile char *o = xmalloc((size_t)a->size);
        for (int r = 0; r < a->reps; r++)
            for (int j = 0; j < a->size; j++) o[j] = (char)(o[j] + 1);
        free((void *)o);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    long iters = argc > 2 ? atol(argv[2]) : 1000000;
    int size = argc > 3 ? atoi(argv[3]) : 8;
    int reps = argc > 4 ? atoi(argv[4]) : 10;
    struct arg *args = xmalloc(sizeof *args * (size_t)threads);
    pthread_t *th = xmalloc(sizeof *th * (size_t)threads);
    for (int i = 0; i < threads; i++) args[i] = (struct arg){xmalloc((size_t)size), iters, size, reps};
    double t0 = now_s();
    for (int i = 0; i < threads; i++) pthread_create(&th[i], NULL, worker, &args[i]);
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    result("cache-scratch", (uint64_t)threads * (uint64_t)iters * 2, now_s() - t0);
    free(th);
    free(args);
    return 0;
}
