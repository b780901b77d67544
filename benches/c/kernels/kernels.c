/* The compute suite: every kernel in one translation unit. Each kernel NAME has
 *     int NAME_setup(unsigned n, unsigned seed);   makes its input (0, or -1 when out of memory)
 *     unsigned long long NAME_run(void);           the timed work; returns a checksum of the result
 */
#include "hash.c"
#include "checksum.c"
#include "sort.c"
#include "matmul.c"
#include "parse.c"
#include "particles.c"
