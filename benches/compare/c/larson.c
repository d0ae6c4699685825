/* larson: server-like churn across threads (after Larson & Krishnan; our
 * own re-implementation, not mimalloc-bench's). Each of --threads threads
 * owns an array of --ws blocks of 8..1000 bytes (filled by the main thread
 * before timing) and, each of --rounds rounds, replaces --iters random
 * blocks (free, malloc, write its first and last byte). After every round
 * the arrays move to the next thread, so blocks are freed by threads that
 * did not allocate them. ops = 2 per replacement.
 * usage: larson [--threads 2] [--ws 1000] [--rounds 20] [--iters 100000] [--seed 42] */
#include "bench.h"

#include <pthread.h>

#define MIN_SIZE 8
#define MAX_SIZE 1000

typedef struct {
    char **blocks;
} array_t;

static long g_threads, g_ws, g_rounds, g_iters;
static array_t *g_arrays;
static pthread_barrier_t g_barrier;

typedef struct {
    long index;
    uint64_t seed;
    double started; /* when this thread passed the start barrier */
} worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    rng_t r = rng_new(w->seed);
    pthread_barrier_wait(&g_barrier);
    w->started = now_secs();
    for (long round = 0; round < g_rounds; round++) {
        array_t *a = &g_arrays[(w->index + round) % g_threads];
        for (long i = 0; i < g_iters; i++) {
            size_t slot = rng_below(&r, (size_t)g_ws);
            free(a->blocks[slot]);
            size_t size = rng_range(&r, MIN_SIZE, MAX_SIZE);
            char *p = xmalloc_or_die(size);
            ((volatile char *)p)[0] = (char)size;
            ((volatile char *)p)[size - 1] = 3;
            a->blocks[slot] = p;
        }
        /* Every array has been worked on before any moves on. */
        pthread_barrier_wait(&g_barrier);
    }
    return NULL;
}

int main(int argc, char **argv) {
    g_threads = arg_long(argc, argv, "threads", 2);
    g_ws = arg_long(argc, argv, "ws", 1000);
    g_rounds = arg_long(argc, argv, "rounds", 20);
    g_iters = arg_long(argc, argv, "iters", 100000);
    long seed = arg_long(argc, argv, "seed", 42);
    if (g_threads < 1 || g_ws < 1) {
        fprintf(stderr, "--threads and --ws must be > 0\n");
        return 2;
    }
    rng_t r = rng_new((uint64_t)seed);
    g_arrays = xmalloc_or_die(sizeof(array_t) * (size_t)g_threads);
    for (long t = 0; t < g_threads; t++) {
        g_arrays[t].blocks = xmalloc_or_die(sizeof(char *) * (size_t)g_ws);
        for (long i = 0; i < g_ws; i++) {
            size_t size = rng_range(&r, MIN_SIZE, MAX_SIZE);
            g_arrays[t].blocks[i] = xmalloc_or_die(size);
            g_arrays[t].blocks[i][0] = 7;
        }
    }
    pthread_barrier_init(&g_barrier, NULL, (unsigned)g_threads + 1);
    pthread_t *th = xmalloc_or_die(sizeof(pthread_t) * (size_t)g_threads);
    worker_t *ws = xmalloc_or_die(sizeof(worker_t) * (size_t)g_threads);
    for (long t = 0; t < g_threads; t++) {
        ws[t].index = t;
        ws[t].seed = (uint64_t)seed * 31 + (uint64_t)t + 1;
        pthread_create(&th[t], NULL, work, &ws[t]);
    }
    pthread_barrier_wait(&g_barrier);
    for (long round = 0; round < g_rounds; round++) {
        pthread_barrier_wait(&g_barrier);
    }
    for (long t = 0; t < g_threads; t++) {
        pthread_join(th[t], NULL);
    }
    double secs = now_secs() - first_start(&ws[0].started, sizeof(worker_t), g_threads);
    report("larson", (uint64_t)(2 * g_threads * g_rounds * g_iters), secs);
    for (long t = 0; t < g_threads; t++) {
        for (long i = 0; i < g_ws; i++) {
            free(g_arrays[t].blocks[i]);
        }
        free(g_arrays[t].blocks);
    }
    free(g_arrays);
    free(th);
    free(ws);
    return 0;
}
