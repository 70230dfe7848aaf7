/* testdata/src/cunits: one program in four compilation units, each with
 * code inlined from a header or from itself, for the DWARF lookups made
 * per unit. For testdata/record.sh (section c-units). */
#ifndef CUNITS_H
#define CUNITS_H

extern volatile unsigned long cunits_sink;

unsigned long hash(unsigned long x);
unsigned long mix_round(unsigned long n);
unsigned long sum_round(unsigned long n);

/* Inlined into every unit that calls it: its frames name this header. */
static inline __attribute__((always_inline)) unsigned long rotate(unsigned long x, int r)
{
    return (x << r) | (x >> (64 - r));
}

#endif
