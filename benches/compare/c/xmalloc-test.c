/* xmalloc-test: producer/consumer cross-thread frees (after Lever &
 * Boreham's xmalloc-test; our own re-implementation, not mimalloc-bench's).
 * In each of --threads pairs, a producer allocates --iters blocks of 16..512
 * bytes (the size stored in the block) and passes them through a bounded
 * single-producer/single-consumer ring of 1024 slots; the consumer checks
 * the stored size and frees the block. Every free is a remote free.
 * ops = 2 * iters per pair (allocations + frees).
 * usage: xmalloc-test [--threads 1] [--iters 1000000] [--seed 42] */
#include "bench.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define RING 1024
#define MIN_SIZE 16
#define MAX_SIZE 512

typedef struct {
    _Atomic(void *) slots[RING];
    _Alignas(128) atomic_size_t tail; /* written by the producer */
    _Alignas(128) atomic_size_t head; /* written by the consumer */
    long iters;
    uint64_t seed;
    double started; /* when the producer passed the start barrier */
    pthread_barrier_t *start;
} pair_t;

static void *producer(void *arg) {
    pair_t *p = arg;
    rng_t r = rng_new(p->seed);
    pthread_barrier_wait(p->start);
    p->started = now_secs();
    for (long i = 0; i < p->iters; i++) {
        size_t size = rng_range(&r, MIN_SIZE, MAX_SIZE);
        size_t *b = xmalloc_or_die(size);
        b[0] = size;
        ((volatile char *)b)[size - 1] = (char)size;
        size_t t = atomic_load_explicit(&p->tail, memory_order_relaxed);
        while (t - atomic_load_explicit(&p->head, memory_order_acquire) == RING) {
            sched_yield();
        }
        atomic_store_explicit(&p->slots[t % RING], b, memory_order_relaxed);
        atomic_store_explicit(&p->tail, t + 1, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg) {
    pair_t *p = arg;
    pthread_barrier_wait(p->start);
    for (long i = 0; i < p->iters; i++) {
        size_t h = atomic_load_explicit(&p->head, memory_order_relaxed);
        while (atomic_load_explicit(&p->tail, memory_order_acquire) == h) {
            sched_yield();
        }
        size_t *b = atomic_load_explicit(&p->slots[h % RING], memory_order_relaxed);
        atomic_store_explicit(&p->head, h + 1, memory_order_release);
        if (b[0] < MIN_SIZE || b[0] > MAX_SIZE) {
            fprintf(stderr, "xmalloc-test: block %p holds size %zu\n", (void *)b, b[0]);
            abort();
        }
        free(b);
    }
    return NULL;
}

int main(int argc, char **argv) {
    long pairs = arg_long(argc, argv, "threads", 1);
    long iters = arg_long(argc, argv, "iters", 1000000);
    long seed = arg_long(argc, argv, "seed", 42);
    if (pairs < 1) {
        fprintf(stderr, "--threads must be > 0\n");
        return 2;
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)(2 * pairs + 1));
    pair_t *ps = aligned_alloc(128, sizeof(pair_t) * (size_t)pairs);
    if (ps == NULL) {
        return 3;
    }
    pthread_t *th = xmalloc_or_die(sizeof(pthread_t) * 2 * (size_t)pairs);
    for (long i = 0; i < pairs; i++) {
        memset(&ps[i], 0, sizeof(pair_t));
        ps[i].iters = iters;
        ps[i].seed = (uint64_t)seed + (uint64_t)i;
        ps[i].start = &start;
        pthread_create(&th[2 * i], NULL, producer, &ps[i]);
        pthread_create(&th[2 * i + 1], NULL, consumer, &ps[i]);
    }
    pthread_barrier_wait(&start);
    for (long i = 0; i < 2 * pairs; i++) {
        pthread_join(th[i], NULL);
    }
    double secs = now_secs() - first_start(&ps[0].started, sizeof(pair_t), pairs);
    report("xmalloc-test", (uint64_t)(2 * iters * pairs), secs);
    free(th);
    free(ps);
    return 0;
}
