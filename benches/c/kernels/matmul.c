/* Matrix multiply: C = A x B for square double matrices, i-k-j loop order
 * (unit stride in the inner loop, so compilers vectorise it). No FMA
 * contraction on either target, so results are bit-identical. */
#include "common.h"

static double *matmul_a, *matmul_b, *matmul_c;
static size_t matmul_n;

int matmul_setup(unsigned n, unsigned seed) {
    uint64_t state = seed;
    free(matmul_a);
    free(matmul_b);
    free(matmul_c);
    matmul_n = n;
    matmul_a = malloc((size_t)n * n * sizeof(double));
    matmul_b = malloc((size_t)n * n * sizeof(double));
    matmul_c = malloc((size_t)n * n * sizeof(double));
    if (!matmul_a || !matmul_b || !matmul_c)
        return -1;
    for (size_t i = 0; i < (size_t)n * n; i++) {
        matmul_a[i] = bench_unit(&state);
        matmul_b[i] = bench_unit(&state);
    }
    return 0;
}

unsigned long long matmul_run(void) {
    size_t n = matmul_n;
    uint64_t sum = 0;
    memset(matmul_c, 0, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double *restrict c = matmul_c + i * n;
        for (size_t k = 0; k < n; k++) {
            double a = matmul_a[i * n + k];
            const double *restrict b = matmul_b + k * n;
            for (size_t j = 0; j < n; j++)
                c[j] += a * b[j];
        }
    }
    for (size_t i = 0; i < n * n; i++)
        sum = bench_mix(sum, bench_bits(matmul_c[i]));
    return sum;
}
