/* C for tests/python/test_callbacks.py: calls into Python (extern "Python"
 * functions, defined by the generated glue after this source, as CFFI does),
 * through function pointers, and back. */
#include <stdlib.h>

typedef struct { int x, y; } point_t;
typedef struct { int v; } one_t;
typedef struct { int a : 3; } bits_t;
typedef struct { union { int i; float f; } u; } with_union_t;

/* extern "Python" functions: forward declarations (CFFI's convention). */
static int py_add(int, int);
static double py_scale(double, float);
static long long py_wide(long long, unsigned char, signed char);
static void py_note(const char *);
static int py_point(point_t *);
static point_t py_make(int, int);
static int py_sum_point(point_t);
static void *py_handle(void *);
static int py_unattached(int);
static int py_reenter(int);
int py_plus_c(int);

int call_add(int a, int b) { return py_add(a, b); }
double call_scale(double a, float b) { return py_scale(a, b); }
long long call_wide(long long a, unsigned char b, signed char c) { return py_wide(a, b, c); }
void call_note(const char *s) { py_note(s); }
int call_point(int x, int y) { point_t p = { x, y }; int r = py_point(&p); return r + p.x; }
int call_make(int a, int b) { point_t p = py_make(a, b); return p.x * 100 + p.y; }
int call_sum_point(int x, int y) { point_t p = { x, y }; return py_sum_point(p); }
void *call_handle(void *h) { return py_handle(h); }
int call_unattached(int a) { return py_unattached(a); }
int call_reenter(int n) { return py_reenter(n); }
int call_plus_c(int n) { return py_plus_c(n); }

int twice(int n) { return 2 * n; }

int sum_loop(int n) {
    int total = 0;
    for (int i = 0; i < n; i++)
        total += py_add(i, 1);
    return total;
}

int sub(int a, int b) { return a - b; }
int apply(int (*f)(int, int), int a, int b) { return f(a, b); }
int (*get_sub(void))(int, int) { return sub; }
double apply_d(double (*f)(double, long long), double a, long long b) { return f(a, b); }
void sort_ints(int *items, int n, int (*cmp)(const void *, const void *)) { qsort(items, n, sizeof(int), cmp); }

static point_t shift(point_t p, int k) { p.x += k; p.y -= k; return p; }
point_t apply_pt(point_t (*f)(point_t, int), point_t p, int k) { return f(p, k); }
point_t (*get_shift(void))(point_t, int) { return shift; }
static one_t one_inc(one_t o) { o.v += 1; return o; }
int apply_one(one_t (*f)(one_t), int v) { one_t o = { v }; return f(o).v; }
one_t (*get_one_inc(void))(one_t) { return one_inc; }
static long double ld_half(long double x, int k) { return x / 2 + k; }
long double apply_ld(long double (*f)(long double, int), long double x) { return f(x, 1) * 3; }
long double (*get_ld_half(void))(long double, int) { return ld_half; }

void crash(void) { __builtin_trap(); }
