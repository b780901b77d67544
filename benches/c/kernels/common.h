/* Shared by the compute kernels: a seeded generator, so that the native and the
 * sandboxed builds work on the same inputs, and a mixer for result checksums. */
#ifndef BENCH_KERNELS_COMMON_H
#define BENCH_KERNELS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: one 64-bit step of a seeded sequence. */
static inline uint64_t bench_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A double in [-1, 1), exact on every target (53 random bits scaled by 2^-52). */
static inline double bench_unit(uint64_t *state) {
    return (double)(bench_next(state) >> 11) * (1.0 / 4503599627370496.0) - 1.0;
}

/* Folds a 64-bit value into a running checksum. */
static inline uint64_t bench_mix(uint64_t sum, uint64_t value) {
    sum ^= value + 0x9E3779B97F4A7C15ULL + (sum << 6) + (sum >> 2);
    return sum;
}

/* The bit pattern of a double, for checksums that compare results exactly. */
static inline uint64_t bench_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

#endif
