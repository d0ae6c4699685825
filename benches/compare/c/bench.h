/* bench.h: what the C benchmark programs of `compare` share: argument
 * parsing (--name value), a monotonic clock, the xorshift64* generator of
 * the Rust workloads (src/rng.rs), and the RESULT line `compare` parses.
 *
 * These programs are this project's own C re-implementations of the classic
 * allocator benchmarks, with the parameters given on their command line;
 * they are not mimalloc-bench's files. They call plain malloc/free, so the
 * allocator is whatever the dynamic linker binds: glibc's, or the library
 * named by LD_PRELOAD. */
#ifndef HAKMEM_BENCH_H
#define HAKMEM_BENCH_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* The value after `--name`, or `def` when absent; exits on a bad number. */
static inline long arg_long(int argc, char **argv, const char *name, long def) {
    for (int i = 1; i + 1 < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] == '-' && strcmp(argv[i] + 2, name) == 0) {
            char *end;
            long v = strtol(argv[i + 1], &end, 10);
            if (*end != '\0' || v < 0) {
                fprintf(stderr, "--%s: not a non-negative number: %s\n", name, argv[i + 1]);
                exit(2);
            }
            return v;
        }
    }
    return def;
}

static inline double now_secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The earliest of `n` start times, the first at `first` and the others
 * `stride` bytes apart (a `started` field of an array of thread records):
 * where timing starts. Each worker reads the clock as it passes the start
 * barrier, because the main thread may be scheduled only after a short run
 * has already finished. */
static inline double first_start(const double *first, size_t stride, long n) {
    double t = *first;
    for (long i = 1; i < n; i++) {
        double s = *(const double *)((const char *)first + (size_t)i * stride);
        t = s < t ? s : t;
    }
    return t;
}

/* xorshift64*, as src/rng.rs. */
typedef struct {
    uint64_t s;
} rng_t;

static inline rng_t rng_new(uint64_t seed) {
    rng_t r = {seed ? seed : 0x9E3779B97F4A7C15ull};
    return r;
}

static inline uint64_t rng_next(rng_t *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n). */
static inline size_t rng_below(rng_t *r, size_t n) {
    return (size_t)(rng_next(r) % (uint64_t)n);
}

/* Uniform in [lo, hi]. */
static inline size_t rng_range(rng_t *r, size_t lo, size_t hi) {
    return lo + rng_below(r, hi - lo + 1);
}

/* malloc that exits on failure (a benchmark cannot go on without it). */
static inline void *xmalloc_or_die(size_t n) {
    void *p = malloc(n);
    if (p == NULL) {
        fprintf(stderr, "malloc(%zu) failed\n", n);
        exit(3);
    }
    return p;
}

/* Prints which shared object the process's `malloc` comes from (the check
 * that LD_PRELOAD took effect), the human line and the RESULT line. */
static inline void report(const char *name, uint64_t ops, double secs) {
    Dl_info info;
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    const char *from = (m != NULL && dladdr(m, &info) != 0 && info.dli_fname != NULL) ? info.dli_fname : "?";
    struct rusage ru;
    long rss = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : 0;
    double rate = secs > 0 ? (double)ops / secs : 0.0;
    printf("MALLOC_FROM %s\n", from);
    printf("%s: %llu ops in %.4f s (%.2f M ops/s)\n", name, (unsigned long long)ops, secs, rate / 1e6);
    printf("RESULT ops_per_sec=%.1f secs=%.6f ops=%llu alloc=c peak_rss_kib=%ld\n", rate, secs,
           (unsigned long long)ops, rss);
    fflush(stdout);
}

#endif
