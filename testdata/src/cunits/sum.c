#include "cunits.h"

static inline __attribute__((always_inline)) unsigned long term(unsigned long i)
{
    return rotate(i * i, 7) + (i >> 2);
}

__attribute__((noinline)) unsigned long sum_round(unsigned long n)
{
    unsigned long s = 0;
    for (unsigned long i = 0; i < n; i++) {
        s += term(i ^ cunits_sink);
        if ((i & 127) == 0)
            s ^= hash(s);
    }
    return s;
}
