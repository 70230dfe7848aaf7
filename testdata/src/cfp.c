/* cfp.c: small CPU-bound C workload for stackconv's perf test data.
 *
 * Built -O2 -g -fno-omit-frame-pointer (see testdata/record.sh) so that
 * `perf record -g` walks frame pointers through it.  It has:
 *   - noinline functions with distinct names (work_sort, work_strings,
 *     work_copy, work_alloc, burn),
 *   - a recursion (fib_rec),
 *   - calls through the PLT into libc (qsort, strlen, memcpy, malloc/free,
 *     snprintf) that land in ifunc variants or glibc aliases
 *     (e.g. __memmove_avx_unaligned_erms, __strlen_avx2, msort_with_tmp,
 *     _int_malloc / __libc_malloc),
 *   - a static inline helper (mix) that gets inlined into its callers,
 *   - some kernel work (write(2) to /dev/null, page faults on a fresh
 *     mmap-sized malloc) so the recording has kernel frames.
 *
 * Usage: cfp [milliseconds] [mode]
 *   mode "all" (default) runs every kind of work in turn;
 *   mode "sort" spends more time sorting, "fib" more in the recursion
 *   (used for the before/after recordings); "sleep" also sleeps 1 ms per
 *   round (off-CPU time for the sched:sched_switch recording).
 * The result goes to stderr, so stdout stays clean for `perf record -o -`.
 * Building with -DCFP_VARIANT=n (n > 1) lengthens burn()'s loop a little:
 * another build id for the same code (stripped-binary and build-id mismatch
 * recordings).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#define N 4096
#ifndef CFP_VARIANT
#define CFP_VARIANT 1
#endif

static volatile unsigned long sink;

static inline unsigned long mix(unsigned long x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdUL;
    x ^= x >> 33;
    return x;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

__attribute__((noinline)) static unsigned long fib_rec(int n)
{
    return n < 2 ? (unsigned long)n : fib_rec(n - 1) + fib_rec(n - 2);
}

__attribute__((noinline)) static void work_sort(unsigned seed)
{
    static int a[N];
    unsigned long s = seed;
    for (int i = 0; i < N; i++) {
        s = mix(s + i);
        a[i] = (int)(s & 0xffffff);
    }
    qsort(a, N, sizeof a[0], cmp_int);
    sink += (unsigned long)a[N / 2];
}

__attribute__((noinline)) static void work_strings(unsigned seed)
{
    char buf[512];
    unsigned long total = 0;
    for (int i = 0; i < 200; i++) {
        snprintf(buf, sizeof buf, "request-%u-%d-%s", seed, i,
                 "payload-payload-payload-payload-payload-payload-payload");
        total += strlen(buf);
    }
    sink += total;
}

__attribute__((noinline)) static void work_copy(unsigned seed)
{
    static char src[1 << 16], dst[1 << 16];
    src[seed % sizeof src] = (char)seed;
    for (int i = 0; i < 16; i++) {
        memcpy(dst, src, sizeof src);
        src[i] ^= dst[(i * 7919) % sizeof dst];
    }
    sink += (unsigned long)dst[seed % sizeof dst];
}

__attribute__((noinline)) static void work_alloc(unsigned seed)
{
    void *p[64];
    for (int i = 0; i < 64; i++) {
        p[i] = malloc(32 + (mix(seed + i) & 1023));
        memset(p[i], i, 32);
    }
    for (int i = 0; i < 64; i++)
        free(p[i]);
}

__attribute__((noinline)) static void work_kernel(int fd)
{
    static char page[4096];
    for (int i = 0; i < 64; i++)
        if (write(fd, page, sizeof page) < 0)
            break;
    size_t len = 1 << 20; /* above the mmap threshold: mmap + faults + munmap */
    char *big = malloc(len);
    if (big) {
        memset(big, 1, len);
        sink += (unsigned long)big[len / 2];
        free(big);
    }
}

__attribute__((noinline)) static void burn(unsigned seed)
{
    unsigned long x = seed;
    for (int i = 0; i < 20000 + 100 * (CFP_VARIANT - 1); i++)
        x = mix(x + i);
    sink += x;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    double ms = argc > 1 ? atof(argv[1]) : 500.0;
    const char *mode = argc > 2 ? argv[2] : "all";
    int sort_heavy = strcmp(mode, "sort") == 0;
    int fib_heavy = strcmp(mode, "fib") == 0;
    int sleepy = strcmp(mode, "sleep") == 0;
    double end = now_ms() + ms;
    unsigned seed = 1;
    int fd = open("/dev/null", O_WRONLY);
    while (now_ms() < end) {
        work_sort(seed);
        if (sort_heavy)
            work_sort(seed + 1);
        sink += fib_rec(fib_heavy ? 22 : 18);
        work_strings(seed);
        work_copy(seed);
        work_alloc(seed);
        if (fd >= 0)
            work_kernel(fd);
        burn(seed);
        if (sleepy) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        seed++;
    }
    fprintf(stderr, "%lu\n", (unsigned long)sink);
    return 0;
}
