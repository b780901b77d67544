/* Sorting: 32-bit keys with an introspective quicksort (median of three,
 * insertion sort for short runs, heapsort when recursion goes too deep). The
 * input is copied before every run, so each run sorts the same data. */
#include "common.h"

static uint32_t *sort_input, *sort_work;
static size_t sort_len;

int sort_setup(unsigned n, unsigned seed) {
    uint64_t state = seed;
    free(sort_input);
    free(sort_work);
    sort_len = n;
    sort_input = malloc(n * sizeof *sort_input);
    sort_work = malloc(n * sizeof *sort_work);
    if (!sort_input || !sort_work)
        return -1;
    for (size_t i = 0; i < n; i++)
        sort_input[i] = (uint32_t)bench_next(&state);
    return 0;
}

static void sort_insertion(uint32_t *a, size_t n) {
    for (size_t i = 1; i < n; i++) {
        uint32_t v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static void sort_sift(uint32_t *a, size_t root, size_t n) {
    uint32_t v = a[root];
    size_t child;
    while ((child = 2 * root + 1) < n) {
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (a[child] <= v)
            break;
        a[root] = a[child];
        root = child;
    }
    a[root] = v;
}

static void sort_heap(uint32_t *a, size_t n) {
    for (size_t i = n / 2; i-- > 0;)
        sort_sift(a, i, n);
    while (n > 1) {
        uint32_t top = a[0];
        a[0] = a[--n];
        a[n] = top;
        sort_sift(a, 0, n);
    }
}

static void sort_quick(uint32_t *a, size_t n, int depth) {
    while (n > 24) {
        if (depth-- == 0) {
            sort_heap(a, n);
            return;
        }
        uint32_t x = a[0], y = a[n / 2], z = a[n - 1];
        uint32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = 0, j = n - 1;
        for (;;) {   /* Hoare partition */
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            uint32_t t = a[i];
            a[i++] = a[j];
            a[j--] = t;
        }
        /* Recurse into the smaller side, loop on the larger one. */
        if (j + 1 < n - j - 1) {
            sort_quick(a, j + 1, depth);
            a += j + 1;
            n -= j + 1;
        } else {
            sort_quick(a + j + 1, n - j - 1, depth);
            n = j + 1;
        }
    }
    sort_insertion(a, n);
}

unsigned long long sort_run(void) {
    uint64_t sum = 0;
    memcpy(sort_work, sort_input, sort_len * sizeof *sort_work);
    sort_quick(sort_work, sort_len, 64);
    for (size_t i = 0; i < sort_len; i++) {
        if (i && sort_work[i - 1] > sort_work[i])
            return 0;   /* not sorted: a wrong answer both builds would have to share */
        sum = sum * 31 + sort_work[i];
    }
    return sum;
}
