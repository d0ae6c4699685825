/* cache-scratch: false sharing (after Hoard's cache-scratch and
 * cache-thrash by Berger et al.; our own re-implementation, not
 * mimalloc-bench's).
 * Passive (default): the main thread allocates one --size-byte object per
 * thread, back to back, and hands one to each thread; each thread frees it,
 * then --iters times allocates an object of that size, writes every byte
 * --reps times and frees it. An allocator that gives the freed neighbour
 * back to the freeing thread makes threads write to one cache line.
 * Active (--active 1, cache-thrash): no hand-out; threads allocate their own
 * objects from the start, so only an allocator that places different
 * threads' objects on one cache line shares it.
 * ops = allocations + frees.
 * usage: cache-scratch [--threads 2] [--iters 1000000] [--size 8] [--reps 10] [--active 0] */
#include "bench.h"

#include <pthread.h>

typedef struct {
    char *given;
    long iters, size, reps;
    pthread_barrier_t *start;
    double started; /* when this thread passed the start barrier */
} job_t;

static void *scratch(void *arg) {
    job_t *j = arg;
    pthread_barrier_wait(j->start);
    j->started = now_secs();
    free(j->given);
    for (long i = 0; i < j->iters; i++) {
        volatile char *p = xmalloc_or_die((size_t)j->size);
        for (long r = 0; r < j->reps; r++) {
            for (long k = 0; k < j->size; k++) {
                p[k] = (char)(r + k);
            }
        }
        free((void *)p);
    }
    return NULL;
}

int main(int argc, char **argv) {
    long threads = arg_long(argc, argv, "threads", 2);
    long iters = arg_long(argc, argv, "iters", 1000000);
    long size = arg_long(argc, argv, "size", 8);
    long reps = arg_long(argc, argv, "reps", 10);
    long active = arg_long(argc, argv, "active", 0);
    if (threads < 1 || size < 1) {
        fprintf(stderr, "--threads and --size must be > 0\n");
        return 2;
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)(threads + 1));
    job_t *jobs = xmalloc_or_die(sizeof(job_t) * (size_t)threads);
    pthread_t *th = xmalloc_or_die(sizeof(pthread_t) * (size_t)threads);
    for (long t = 0; t < threads; t++) {
        jobs[t].given = active ? NULL : xmalloc_or_die((size_t)size);
        jobs[t].iters = iters;
        jobs[t].size = size;
        jobs[t].reps = reps;
        jobs[t].start = &start;
    }
    for (long t = 0; t < threads; t++) {
        pthread_create(&th[t], NULL, scratch, &jobs[t]);
    }
    pthread_barrier_wait(&start);
    for (long t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
    }
    double secs = now_secs() - first_start(&jobs[0].started, sizeof(job_t), threads);
    uint64_t ops = (uint64_t)(threads * 2 * iters) + (active ? 0 : (uint64_t)(2 * threads));
    report(active ? "cache-thrash" : "cache-scratch", ops, secs);
    free(th);
    free(jobs);
    return 0;
}
