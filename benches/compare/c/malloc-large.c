/* malloc-large: large blocks (after mimalloc-bench's malloc-large; our own
 * re-implementation, not its file). A working set of --ws slots; --iters
 * times a random slot's block is freed and replaced by a new one of
 * --min..--max bytes (64 KiB..4 MiB), with one write per --page bytes of it
 * (0: no writes), as a program that uses its buffers. Reusing freed memory
 * instead of mapping and faulting in fresh pages is what it rewards.
 * ops = allocations + frees.
 * usage: malloc-large [--iters 2000] [--ws 20] [--min 65536] [--max 4194304] [--page 4096] [--seed 42] */
#include "bench.h"

int main(int argc, char **argv) {
    long iters = arg_long(argc, argv, "iters", 2000);
    long ws = arg_long(argc, argv, "ws", 20);
    long min = arg_long(argc, argv, "min", 65536);
    long max = arg_long(argc, argv, "max", 4194304);
    long page = arg_long(argc, argv, "page", 4096);
    long seed = arg_long(argc, argv, "seed", 42);
    if (ws < 1 || min < 1 || max < min) {
        fprintf(stderr, "need --ws > 0 and 0 < --min <= --max\n");
        return 2;
    }
    rng_t r = rng_new((uint64_t)seed);
    char **slots = calloc((size_t)ws, sizeof(char *));
    if (slots == NULL) {
        return 3;
    }
    uint64_t ops = 0;
    double t0 = now_secs();
    for (long i = 0; i < iters; i++) {
        size_t s = rng_below(&r, (size_t)ws);
        if (slots[s] != NULL) {
            free(slots[s]);
            ops++;
        }
        size_t size = rng_range(&r, (size_t)min, (size_t)max);
        char *p = xmalloc_or_die(size);
        if (page > 0) {
            for (size_t off = 0; off < size; off += (size_t)page) {
                ((volatile char *)p)[off] = (char)off;
            }
        }
        slots[s] = p;
        ops++;
    }
    for (long s = 0; s < ws; s++) {
        if (slots[s] != NULL) {
            free(slots[s]);
            ops++;
        }
    }
    double secs = now_secs() - t0;
    report("malloc-large", ops, secs);
    free(slots);
    return 0;
}
