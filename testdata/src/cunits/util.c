#include "cunits.h"

static inline __attribute__((always_inline)) unsigned long fold(unsigned long x)
{
    return x ^ (x >> 29);
}

__attribute__((noinline)) unsigned long hash(unsigned long x)
{
    for (int k = 0; k < 8; k++)
        x = fold(rotate(x, 17) * 0xbf58476d1ce4e5b9UL);
    return x;
}
