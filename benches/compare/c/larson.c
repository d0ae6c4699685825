/* larson (after Larson & Krishnan's server simulation, our own C version
 * with our own parameters): THREADS arrays of WS blocks (8..1000 bytes);
 * each round starts THREADS new threads, thread i taking array
 * (i + round) % THREADS and replacing ITERS random blocks in it (free +
 * malloc + write), so blocks are freed by threads that did not allocate
 * them and threads are short-lived, as in a server.
 * Usage: larson [threads=2] [ws=1000] [rounds=20] [iters=100000] */
#include <pthread.h>
#include "common.h"

struct arr {
    void **b;
    int ws;
    long iters;
    uint64_t seed;
};

static void *round_fn(void *a_) {
    struct arr *a = a_;
    for (long i = 0; i < a->iters; i++) {
        size_t k = (size_t)(rng_next(&a->seed) % (uint64_t)a->ws);
        free(a->b[k]);
        size_t n = rng_range(&a->seed, 8, 1000);
        char *p = xmalloc(n);
        p[0] = 1;
        p[n - 1] = 2;
        a->b[k] = p;
    }
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int ws = argc > 2 ? atoi(argv[2]) : 1000;
    int rounds = argc > 3 ? atoi(argv[3]) : 20;
    long iters = argc > 4 ? atol(argv[4]) : 100000;
    struct arr *arrs = xmalloc(sizeof *arrs * (size_t)threads);
    uint64_t seed = 42;
    for (int t = 0; t < threads; t++) {
        arrs[t] = (struct arr){xmalloc(sizeof(void *) * (size_t)ws), ws, iters, 1000 + (uint64_t)t};
        for (int i = 0; i < ws; i++) arrs[t].b[i] = xmalloc(rng_range(&seed, 8, 1000));
    }
    pthread_t *th = xmalloc(sizeof *th * (size_t)threads);
    double t0 = now_s();
    for (int r = 0; r < rounds; r++) {
        for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, round_fn, &arrs[(t + r) % threads]);
        for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    }
    double secs = now_s() - t0;
    result("larson", (uint64_t)threads * (uint64_t)rounds * (uint64_t)iters * 2, secs);
    for (int t = 0; t < threads; t++) {
        for (int i = 0; i < ws; i++) free(arrs[t].b[i]);
        free(arrs[t].b);
    }
    free(arrs);
    free(th);
    return 0;
}
