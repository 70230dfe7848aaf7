#include "cunits.h"

static inline __attribute__((always_inline)) unsigned long step(unsigned long x, unsigned long i)
{
    return rotate(x ^ i, 13) * 0x9e3779b97f4a7c15UL;
}

__attribute__((noinline)) unsigned long mix_round(unsigned long n)
{
    unsigned long x = cunits_sink;
    for (unsigned long i = 0; i < n; i++) {
        x = step(x, i);
        if ((i & 63) == 0)
            x += hash(x);
    }
    return x;
}
