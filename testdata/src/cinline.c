/* A call followed by inlined code, linked with lld: the return address of
 * work() lies in the inlined account(), and lld places .text mid-page
 * (file offset and address differ by 0x1000). For testdata/record.sh
 * (section c-lld-dwarf). Usage: cinline MILLISECONDS */
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

__attribute__((noinline)) unsigned long work(unsigned long n)
{
    unsigned long x = 0;
    for (unsigned long i = 0; i < n; i++)
        x = x * 31 + (i ^ sink);
    return x;
}

static inline __attribute__((always_inline)) void account(unsigned long v)
{
    sink += v * 7;
    sink ^= v >> 3;
}

__attribute__((noinline)) void caller(unsigned long n)
{
    unsigned long v = work(n);
    account(v);
}

int main(int argc, char **argv)
{
    double ms = argc > 1 ? atof(argv[1]) : 300;
    clock_t end = clock() + (clock_t)(ms / 1000 * CLOCKS_PER_SEC);
    while (clock() < end)
        caller(20000);
    return 0;
}
