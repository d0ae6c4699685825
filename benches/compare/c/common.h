/* Shared helpers of the C workloads: a xorshift64* generator, a clock,
 * and the result line ("RESULT ops=N secs=S"). */
#ifndef HAKMEM_BENCH_C_COMMON_H
#define HAKMEM_BENCH_C_COMMON_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}
static inline size_t rng_range(uint64_t *s, size_t lo, size_t hi) {
    return lo + (size_t)(rng_next(s) % (uint64_t)(hi - lo + 1));
}
static inline double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static inline void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "malloc(%zu) failed\n", n);
        exit(2);
    }
    return p;
}
static inline void result(const char *name, uint64_t ops, double secs) {
    printf("%s: %llu ops in %.4f s\nRESULT ops=%llu secs=%.6f\n", name, (unsigned long long)ops, secs,
           (unsigned long long)ops, secs);
}
#endif
