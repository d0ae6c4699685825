/* malloc-large (after mimalloc-bench's malloc-large, our own C version with
 * our own parameters): a working set of 20 blocks of 64 KiB..4 MiB, ITERS
 * random replacements, one write per 4 KiB page of each new block.
 * Usage: malloc-large [iters=4000] */
#include "common.h"

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 4000;
    enum { WS = 20 };
    char *b[WS] = {0};
    uint64_t seed = 42;
    double t0 = now_s();
    for (long i = 0; i < iters; i++) {
        size_t k = (size_t)(rng_next(&seed) % WS);
        free(b[k]);
        size_t n = rng_range(&seed, 64 << 10, 4 << 20);
        b[k] = xmalloc(n);
        for (size_t off = 0; off < n; off += 4096) b[k][off] = 1;
    }
    for (int k = 0; k < WS; k++) free(b[k]);
    result("malloc-large", (uint64_t)iters * 2, now_s() - t0);
    return 0;
}
