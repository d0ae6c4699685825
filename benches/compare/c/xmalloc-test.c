/* xmalloc-test (after Lever & Boreham's xmalloc-test, our own C version with
 * our own parameters): THREADS producer/consumer pairs; the producer
 * mallocs 16..512-byte blocks and passes them through a bounded
 * single-producer/single-consumer ring, the consumer frees them: every free
 * is a cross-thread free. Usage: xmalloc-test [pairs=2] [iters=2000000] */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include "common.h"

#define RING 1024
struct pair {
    _Atomic size_t head, tail;
    void *slot[RING];
    long iters;
    uint64_t seed;
};

static void *producer(void *arg) {
    struct pair *p = arg;
    for (long i = 0; i < p->iters; i++) {
        size_t n = rng_range(&p->seed, 16, 512);
        char *b = xmalloc(n);
        b[0] = (char)n;
        b[n - 1] = 1;
        size_t h = atomic_load_explicit(&p->head, memory_order_relaxed);
        while (h - atomic_load_explicit(&p->tail, memory_order_acquire) == RING) sched_yield();
        p->slot[h % RING] = b;
        atomic_store_explicit(&p->head, h + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg) {
    struct pair *p = arg;
    for (long i = 0; i < p->iters; i++) {
        size_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
        while (atomic_load_explicit(&p->head, memory_order_acquire) == t) sched_yield();
        free(p->slot[t % RING]);
        atomic_store_explicit(&p->tail, t + 1, memory_order_release);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int pairs = argc > 1 ? atoi(argv[1]) : 1;
    long iters = argc > 2 ? atol(argv[2]) : 2000000;
    struct pair *ps = calloc((size_t)pairs, sizeof *ps);
    pthread_t *th = xmalloc(sizeof(pthread_t) * 2 * (size_t)pairs);
    double t0 = now_s();
    for (int i = 0; i < pairs; i++) {
        ps[i].iters = iters;
        ps[i].seed = 42 + (uint64_t)i * 7919;
        pthread_create(&th[2 * i], NULL, producer, &ps[i]);
        pthread_create(&th[2 * i + 1], NULL, consumer, &ps[i]);
    }
    for (int i = 0; i < 2 * pairs; i++) pthread_join(th[i], NULL);
    result("xmalloc-test", (uint64_t)pairs * (uint64_t)iters * 2, now_s() - t0);
    free(th);
    free(ps);
    return 0;
}
