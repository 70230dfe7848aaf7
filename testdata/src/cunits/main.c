/* Usage: cunits MILLISECONDS. See cunits.h. */
#include <stdlib.h>
#include <time.h>

#include "cunits.h"

volatile unsigned long cunits_sink;

int main(int argc, char **argv)
{
    double ms = argc > 1 ? atof(argv[1]) : 300;
    clock_t end = clock() + (clock_t)(ms / 1000 * CLOCKS_PER_SEC);
    while (clock() < end) {
        cunits_sink += mix_round(3000);
        cunits_sink += sum_round(3000);
    }
    return 0;
}
