/* The C API's rules, one per subcommand: `semantics RULE` exits 0 when the
 * rule holds and prints what broke otherwise. Run under
 * LD_PRELOAD=libhakmem.so by tests/capi.rs (and .ci/capi.sh). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #c);                                                       \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Allocation before main, as a library constructor would. */
static void *early;
__attribute__((constructor(101))) static void early_alloc(void) {
    early = malloc(40);
    memset(early, 1, 40);
}

static int ours(const char *name) {
    void *f = dlsym(RTLD_DEFAULT, name);
    Dl_info info;
    return f && dladdr(f, &info) && info.dli_fname &&
           strstr(info.dli_fname, "libhakmem") != NULL;
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 7);
}
static int check_fill(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 7)) return 0;
    return 1;
}

static int rule_loaded(void) {
    CHECK(ours("malloc") && ours("free") && ours("calloc") && ours("realloc"));
    CHECK(early != NULL);
    free(early);
    return 0;
}

static int rule_libc_names(void) {
    const char *names[] = {"__libc_malloc",  "__libc_free",   "__libc_calloc",
                           "__libc_realloc", "__libc_memalign", "__libc_valloc",
                           "__libc_pvalloc", "reallocarray", "posix_memalign",
                           "aligned_alloc",  "memalign",      "valloc",
                           "pvalloc",        "malloc_usable_size", "free_sized",
                           "free_aligned_sized", "malloc_trim", "mallopt",
                           "mallinfo2"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!ours(names[i])) {
            fprintf(stderr, "%s is not libhakmem's\n", names[i]);
            return 1;
        }
    }
    void *(*lm)(size_t) = dlsym(RTLD_DEFAULT, "__libc_malloc");
    void (*lf)(void *) = dlsym(RTLD_DEFAULT, "__libc_free");
    void *p = lm(100);
    CHECK(p && malloc_usable_size(p) >= 100);
    free(p); /* one heap: a block from __libc_malloc frees with free */
    p = malloc(100);
    lf(p);
    return 0;
}

static int rule_malloc_zero_unique(void) {
    void *a = malloc(0), *b = malloc(0);
    CHECK(a && b && a != b);
    free(a);
    free(b);
    return 0;
}

static int rule_free_null(void) {
    errno = 77;
    free(NULL);
    CHECK(errno == 77);
    return 0;
}

static int rule_alignment_16(void) {
    void *ps[6000];
    for (size_t i = 0; i < 6000; i++) {
        size_t n = i < 5000 ? i : (i - 5000) * 1000;
        ps[i] = malloc(n);
        CHECK(ps[i] && ((uintptr_t)ps[i] & 15) == 0);
        fill(ps[i], n, (unsigned)i);
    }
    for (size_t i = 0; i < 6000; i++) {
        size_t n = i < 5000 ? i : (i - 5000) * 1000;
        CHECK(check_fill(ps[i], n, (unsigned)i));
        free(ps[i]);
    }
    return 0;
}

static int rule_calloc_zeroes(void) {
    for (int round = 0; round < 3; round++) {
        void *ps[200];
        for (size_t i = 0; i < 200; i++) {
            size_t n = 1 + i * 997;
            unsigned char *p = calloc(1, n);
            CHECK(p);
            for (size_t j = 0; j < n; j++) CHECK(p[j] == 0);
            memset(p, 0xAB, n); /* dirty it, so recycled blocks must be cleared */
            ps[i] = p;
        }
        for (size_t i = 0; i < 200; i++) free(ps[i]);
    }
    return 0;
}

static int rule_calloc_overflow(void) {
    errno = 0;
    CHECK(calloc(SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc((size_t)1 << 33, (size_t)1 << 33) == NULL && errno == ENOMEM);
    return 0;
}

static int rule_impossible_enomem(void) {
    errno = 0;
    CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(PTRDIFF_MAX) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(1, SIZE_MAX - 4096) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(memalign(4096, SIZE_MAX - 100) == NULL && errno == ENOMEM);
    return 0;
}

static int rule_realloc_null_is_malloc(void) {
    void *p = realloc(NULL, 100);
    CHECK(p && malloc_usable_size(p) >= 100);
    free(p);
    p = realloc(NULL, 0);
    CHECK(p != NULL);
    free(p);
    return 0;
}

static int rule_realloc_zero_frees(void) {
    /* The block is freed: the same size comes straight back from the cache. */
    void *p = malloc(100);
    CHECK(p);
    CHECK(realloc(p, 0) == NULL);
    void *q = malloc(100);
    CHECK(q == p);
    free(q);
    return 0;
}

static int rule_realloc_keeps_prefix(void) {
    size_t sizes[] = {1, 24, 100, 1000, 5000, 40000, 100000, 3 << 20, 50, 9 << 20, 70000, 16};
    size_t n = 10;
    unsigned char *p = malloc(n);
    fill(p, n, 3);
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t m = sizes[i];
        p = realloc(p, m);
        CHECK(p && ((uintptr_t)p & 15) == 0);
        CHECK(check_fill(p, n < m ? n : m, 3));
        fill(p, m, 3);
        n = m;
    }
    free(p);
    return 0;
}

static int rule_realloc_failure_keeps_block(void) {
    unsigned char *p = malloc(300);
    fill(p, 300, 9);
    errno = 0;
    CHECK(realloc(p, SIZE_MAX - 10) == NULL && errno == ENOMEM);
    CHECK(check_fill(p, 300, 9));
    errno = 0;
    CHECK(reallocarray(p, SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);
    CHECK(check_fill(p, 300, 9));
    p = reallocarray(p, 100, 8);
    CHECK(p && check_fill(p, 300, 9));
    free(p);
    return 0;
}

static int rule_posix_memalign_einval(void) {
    void *p = (void *)1;
    errno = 1234;
    CHECK(posix_memalign(&p, 24, 10) == EINVAL);
    CHECK(posix_memalign(&p, 0, 10) == EINVAL);
    CHECK(posix_memalign(&p, 4, 10) == EINVAL);
    CHECK(errno == 1234 && p == (void *)1);
    CHECK(posix_memalign(&p, 64, SIZE_MAX - 100) == ENOMEM);
    return 0;
}

static int rule_posix_memalign_aligns(void) {
    for (size_t a = sizeof(void *); a <= ((size_t)1 << 22); a <<= 1) {
        size_t sizes[] = {0, 1, 100, a, 3 * a + 5, 70000};
        for (size_t i = 0; i < 6; i++) {
            void *p = NULL;
            CHECK(posix_memalign(&p, a, sizes[i]) == 0);
            CHECK(p && ((uintptr_t)p & (a - 1)) == 0);
            CHECK(malloc_usable_size(p) >= sizes[i]);
            memset(p, 1, sizes[i]);
            free(p);
        }
    }
    return 0;
}

static int rule_aligned_alloc(void) {
    errno = 0;
    CHECK(aligned_alloc(24, 48) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(aligned_alloc(0, 48) == NULL && errno == EINVAL);
    void *p = aligned_alloc(64, 100);
    CHECK(p && ((uintptr_t)p & 63) == 0);
    free(p);
    p = aligned_alloc(1 << 16, 100);
    CHECK(p && ((uintptr_t)p & 0xffff) == 0);
    free(p);
    return 0;
}

static int rule_memalign_valloc_pvalloc(void) {
    void *p = memalign(48, 100); /* rounded up to 64, as glibc */
    CHECK(p && ((uintptr_t)p & 63) == 0);
    free(p);
    p = memalign(8, 100);
    CHECK(p && ((uintptr_t)p & 15) == 0);
    free(p);
    long page = sysconf(_SC_PAGESIZE);
    p = valloc(10);
    CHECK(p && ((uintptr_t)p & (page - 1)) == 0);
    free(p);
    p = pvalloc(1);
    CHECK(p && ((uintptr_t)p & (page - 1)) == 0 && malloc_usable_size(p) >= (size_t)page);
    memset(p, 2, page);
    free(p);
    p = pvalloc(0);
    CHECK(p && malloc_usable_size(p) >= (size_t)page);
    free(p);
    return 0;
}

static int rule_usable_size(void) {
    CHECK(malloc_usable_size(NULL) == 0);
    for (size_t n = 0; n < 200000; n = n * 3 / 2 + 1) {
        unsigned char *p = malloc(n);
        size_t u = malloc_usable_size(p);
        CHECK(u >= n);
        memset(p, 5, u); /* all of it is ours to use */
        free(p);
    }
    return 0;
}

static int rule_free_sized(void) {
    /* C23 names, looked up at run time (older glibc headers and libc lack them). */
    void (*free_sized)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
    void (*free_aligned_sized)(void *, size_t, size_t) =
        (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
    CHECK(free_sized && free_aligned_sized);
    void *p = malloc(100);
    free_sized(p, 100);
    p = aligned_alloc(256, 512);
    free_aligned_sized(p, 256, 512);
    p = malloc(1 << 20);
    free_sized(p, 1 << 20);
    /* A realloc that shrinks in place: the size given is not the class's. */
    p = malloc(1000);
    void *q = realloc(p, 600);
    CHECK(q == p);
    free_sized(q, 600);
    /* The usable size is accepted too. */
    p = malloc(100);
    free_sized(p, malloc_usable_size(p));
    return 0;
}

static int rule_free_sized_too_large(void) {
    void (*free_sized)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
    CHECK(free_sized != NULL);
    void *p = malloc(100);
    free_sized(p, malloc_usable_size(p) + 1);
    return 1; /* must not get here */
}

static int rule_trim_mallopt_mallinfo2(void) {
    CHECK(mallopt(M_ARENA_MAX, 1) == 1);
    void *ps[64];
    for (int i = 0; i < 64; i++) ps[i] = malloc(20000);
    void *big = malloc(5 << 20);
    struct mallinfo2 m = mallinfo2();
    CHECK(m.arena > 0 && m.hblkhd >= (5 << 20) && m.uordblks >= (5 << 20));
    for (int i = 0; i < 64; i++) free(ps[i]);
    free(big);
    int r = malloc_trim(0);
    CHECK(r == 0 || r == 1);
    m = mallinfo2();
    CHECK(m.hblkhd < (5 << 20));
    return 0;
}

static int rule_invalid_free_stack(void) {
    char buf[64];
    free(buf + 16);
    return 1; /* must not get here */
}

static int rule_invalid_free_interior(void) {
    char *p = malloc(64);
    free(p + 16);
    return 1;
}

static int rule_invalid_free_mmap(void) {
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    munmap(m, page); /* the would-be header page is not mapped */
    free(m + page);
    return 1;
}

static int rule_invalid_free_glibc_block(void) {
    /* A page-aligned pointer whose previous page is mapped but holds no header. */
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    free(m + page);
    return 1;
}

/* --- stale pointers: their slab released, then reused for another class ---
 * A thread allocates ~3 MiB of 48-byte blocks (class A), frees them all and
 * exits: its empty slabs go back to the pool, and the SuperSlabs it filled
 * alone retire (and stay cached). Then 256-byte blocks (class B) take those
 * SuperSlabs again. A pointer of the first thread is then stale: it must
 * abort with `hakmem: invalid free at`, unless it happens to be a live block
 * of the new class (then it is one, and frees as one). The rules print
 * "reused" on stdout once the setup is shown to have happened. */

#define STALE_A 48
#define STALE_B 256
#define STALE_NA ((3 << 20) / STALE_A)
#define STALE_NB ((4 << 20) / STALE_B)
#define SLAB_BYTES 65536 /* config::SLAB_SIZE */

static void *stale_a[STALE_NA];
static void *stale_b[STALE_NB];

static void *stale_fill_and_free(void *arg) {
    (void)arg;
    for (int i = 0; i < STALE_NA; i++) {
        stale_a[i] = malloc(STALE_A);
        if (!stale_a[i]) abort();
    }
    for (int i = 0; i < STALE_NA; i++) free(stale_a[i]);
    return NULL;
}

static int cmp_ptr(const void *x, const void *y) {
    uintptr_t a = (uintptr_t) * (void *const *)x, b = (uintptr_t) * (void *const *)y;
    return a < b ? -1 : a > b;
}

/* Whether a live class-B block lies in the slab of `p` (stale_b sorted). */
static int slab_has_b(const void *p) {
    uintptr_t slab = (uintptr_t)p & ~(uintptr_t)(SLAB_BYTES - 1);
    size_t lo = 0, hi = STALE_NB;
    while (lo < hi) { /* first b >= slab */
        size_t mid = (lo + hi) / 2;
        if ((uintptr_t)stale_b[mid] < slab) lo = mid + 1; else hi = mid;
    }
    return lo < STALE_NB && (uintptr_t)stale_b[lo] < slab + SLAB_BYTES;
}

/* Run the setup; `reuse` also allocates the class-B blocks (sorted). */
static void stale_setup(int reuse) {
    pthread_t t;
    CHECK(pthread_create(&t, NULL, stale_fill_and_free, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    if (reuse) {
        for (int i = 0; i < STALE_NB; i++) CHECK((stale_b[i] = malloc(STALE_B)) != NULL);
        qsort(stale_b, STALE_NB, sizeof *stale_b, cmp_ptr);
    }
}

/* The first stale class-A pointer (not page aligned, so it cannot pass for
 * a large block) whose slab now holds class-B blocks and whose offset
 * `want_b_boundary` is (or is not) a class-B block boundary. */
static void *stale_pick(int want_b_boundary) {
    for (int i = 0; i < STALE_NA; i++) {
        uintptr_t a = (uintptr_t)stale_a[i], off = a & (SLAB_BYTES - 1);
        if (a % 4096 == 0 || off == 0 || (off % STALE_B == 0) != want_b_boundary) continue;
        if (slab_has_b(stale_a[i])) {
            printf("reused\n");
            fflush(stdout);
            return stale_a[i];
        }
    }
    return NULL;
}

static int rule_stale_free_released(void) {
    stale_setup(0);
    /* A non-page-aligned block from the middle: its slab is released. */
    for (int i = STALE_NA / 2; i < STALE_NA; i++) {
        if ((uintptr_t)stale_a[i] % 4096 != 0) {
            printf("reused\n"); /* released, in fact: the rule's marker */
            fflush(stdout);
            free(stale_a[i]);
            return 1; /* must not get here */
        }
    }
    return 1;
}

static int rule_stale_free_other_class(void) {
    stale_setup(1);
    void *p = stale_pick(0);
    CHECK(p != NULL);
    free(p);
    return 1; /* must not get here */
}

static int rule_stale_free_interior(void) {
    stale_setup(1);
    char *p = stale_pick(1);
    CHECK(p != NULL);
    free(p + 16); /* inside a live class-B block */
    return 1;
}

static int rule_stale_free_live_block(void) {
    stale_setup(1);
    void *p = stale_pick(1);
    CHECK(p != NULL);
    /* A class-B boundary in a slab full of class-B blocks: the stale pointer
     * is a live class-B block, and frees as one. */
    void **hit = bsearch(&p, stale_b, STALE_NB, sizeof *stale_b, cmp_ptr);
    CHECK(hit != NULL);
    CHECK(malloc_usable_size(p) == STALE_B);
    memset(p, 0x5a, STALE_B);
    free(p);
    *hit = NULL;
    for (int i = 0; i < STALE_NB; i++) free(stale_b[i]);
    /* The block is free again (once), and all keep working. */
    for (int i = 0; i < STALE_NB; i++) CHECK((stale_b[i] = malloc(STALE_B)) != NULL);
    qsort(stale_b, STALE_NB, sizeof *stale_b, cmp_ptr);
    for (int i = 1; i < STALE_NB; i++) CHECK(stale_b[i] != stale_b[i - 1]);
    for (int i = 0; i < STALE_NB; i++) free(stale_b[i]);
    return 0;
}

/* --- threads --- */

static void *churn(void *arg) {
    size_t seed = (size_t)arg;
    void *ps[256];
    for (int r = 0; r < 20; r++) {
        for (int i = 0; i < 256; i++) ps[i] = malloc(16 + (seed * 31 + i * 97) % 3000);
        for (int i = 0; i < 256; i++) free(ps[(i * 7) % 256]);
    }
    void **keep = malloc(64 * sizeof *keep);
    for (int i = 0; i < 64; i++) keep[i] = malloc(100 + i);
    return keep; /* freed by another thread */
}

static void *nothing(void *arg) { return arg; }

static pthread_key_t late_key;
static void late_destructor(void *v) {
    /* Runs at thread exit, possibly after ours: allocate and free again. */
    free(v);
    void *p = malloc(500);
    free(p);
}
static void *with_late_key(void *arg) {
    pthread_setspecific(late_key, malloc(200));
    return churn(arg);
}

static int rule_thread_exit(void) {
    pthread_key_create(&late_key, late_destructor);
    for (int round = 0; round < 30; round++) {
        pthread_t t[8];
        for (size_t i = 0; i < 8; i++)
            CHECK(pthread_create(&t[i], NULL, i % 2 ? with_late_key : churn, (void *)(round * 8 + i)) == 0);
        for (int i = 0; i < 8; i++) {
            void **keep;
            CHECK(pthread_join(t[i], (void **)&keep) == 0);
            for (int j = 0; j < 64; j++) free(keep[j]);
            free(keep);
        }
    }
    /* Slabs of exited threads are reused: live SuperSlabs stay bounded. */
    struct mallinfo2 m = mallinfo2();
    CHECK(m.ordblks < 64);
    return 0;
}

static int rule_threads_never_allocate(void) {
    for (int i = 0; i < 200; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, nothing, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);
    }
    return 0;
}

static int rule_dlopen_dlclose(void) {
    const char *lib = getenv("ALLOCLIB");
    CHECK(lib);
    for (int i = 0; i < 100; i++) {
        void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
        CHECK(h);
        void *(*f)(size_t) = (void *(*)(size_t))dlsym(h, "lib_alloc");
        CHECK(f);
        void *p = f(1000 + i);
        free(p);
        CHECK(dlclose(h) == 0);
    }
    /* dlerror's message buffer is allocated by libdl. */
    CHECK(dlsym(RTLD_DEFAULT, "no_such_symbol_here") == NULL && dlerror() != NULL);
    return 0;
}

/* --- fork while threads allocate --- */

static volatile int stop_bg;
static void *bg(void *arg) {
    size_t s = (size_t)arg;
    while (!stop_bg) {
        void *ps[32];
        for (int i = 0; i < 32; i++) {
            size_t n = (i % 8 == 0) ? 40000 + (s % 5) * 100000 : 16 + (s * 31 + i * 97) % 3000;
            ps[i] = malloc(n);
            memset(ps[i], 1, n < 64 ? n : 64);
        }
        for (int i = 0; i < 32; i++) free(ps[i]);
        s++;
    }
    return NULL;
}
static void *spawner(void *arg) {
    (void)arg;
    while (!stop_bg) {
        pthread_t t;
        if (pthread_create(&t, NULL, churn, (void *)7) == 0) {
            void **keep;
            pthread_join(t, (void **)&keep);
            for (int j = 0; j < 64; j++) free(keep[j]);
            free(keep);
        }
    }
    return NULL;
}

static int rule_fork(void) {
    int runs = getenv("FORK_RUNS") ? atoi(getenv("FORK_RUNS")) : 200;
    /* A child that has not exited after this long hangs. */
    int timeout_ms = getenv("FORK_TIMEOUT_MS") ? atoi(getenv("FORK_TIMEOUT_MS")) : 20000;
    pthread_t t[4];
    for (size_t i = 0; i < 3; i++) pthread_create(&t[i], NULL, bg, (void *)i);
    pthread_create(&t[3], NULL, spawner, NULL);
    int hangs = 0, failed = 0;
    for (int r = 0; r < runs; r++) {
        void *inherited = malloc(100 + r);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            free(inherited);
            void *ps[64];
            for (int i = 0; i < 64; i++) ps[i] = malloc(i % 4 ? 24 + i * 40 : 100000 + i);
            pthread_t c;
            if (pthread_create(&c, NULL, churn, (void *)3) != 0) _exit(2);
            void **keep;
            pthread_join(c, (void **)&keep);
            for (int j = 0; j < 64; j++) free(keep[j]);
            free(keep);
            for (int i = 0; i < 64; i++) free(ps[i]);
            execl("/bin/true", "true", (char *)NULL);
            _exit(3);
        }
        free(inherited);
        int status = 0, done = 0;
        for (int ms = 0; ms < timeout_ms; ms++) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                done = 1;
                break;
            }
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (!done) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            hangs++;
            if (getenv("FORK_STOP_AT_HANG")) break;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed++;
        }
    }
    stop_bg = 1;
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    if (hangs || failed) {
        fprintf(stderr, "%d forks: %d children hung, %d failed\n", runs, hangs, failed);
        return 1;
    }
    return 0;
}

struct rule {
    const char *name;
    int (*f)(void);
};
static const struct rule rules[] = {
    {"loaded", rule_loaded},
    {"libc_names", rule_libc_names},
    {"malloc_zero_unique", rule_malloc_zero_unique},
    {"free_null", rule_free_null},
    {"alignment_16", rule_alignment_16},
    {"calloc_zeroes", rule_calloc_zeroes},
    {"calloc_overflow", rule_calloc_overflow},
    {"impossible_enomem", rule_impossible_enomem},
    {"realloc_null_is_malloc", rule_realloc_null_is_malloc},
    {"realloc_zero_frees", rule_realloc_zero_frees},
    {"realloc_keeps_prefix", rule_realloc_keeps_prefix},
    {"realloc_failure_keeps_block", rule_realloc_failure_keeps_block},
    {"posix_memalign_einval", rule_posix_memalign_einval},
    {"posix_memalign_aligns", rule_posix_memalign_aligns},
    {"aligned_alloc", rule_aligned_alloc},
    {"memalign_valloc_pvalloc", rule_memalign_valloc_pvalloc},
    {"usable_size", rule_usable_size},
    {"free_sized", rule_free_sized},
    {"free_sized_too_large", rule_free_sized_too_large},
    {"trim_mallopt_mallinfo2", rule_trim_mallopt_mallinfo2},
    {"invalid_free_stack", rule_invalid_free_stack},
    {"invalid_free_interior", rule_invalid_free_interior},
    {"invalid_free_mmap", rule_invalid_free_mmap},
    {"invalid_free_no_header", rule_invalid_free_glibc_block},
    {"stale_free_released", rule_stale_free_released},
    {"stale_free_other_class", rule_stale_free_other_class},
    {"stale_free_interior", rule_stale_free_interior},
    {"stale_free_live_block", rule_stale_free_live_block},
    {"thread_exit", rule_thread_exit},
    {"threads_never_allocate", rule_threads_never_allocate},
    {"dlopen_dlclose", rule_dlopen_dlclose},
    {"fork", rule_fork},
};

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s RULE\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++)
        if (strcmp(argv[1], rules[i].name) == 0) return rules[i].f();
    fprintf(stderr, "unknown rule %s\n", argv[1]);
    return 2;
}
