/* A small C library for the ABI-mode tests (tests/python/test_abi_mode.py).
 *
 * Built with the host compiler: cc -shared -fPIC -O2 abi_testlib.c -o libabi_testlib.so
 * Every function is plain C with external linkage, so that both wasmcffi and
 * CFFI can reach it through ffi.dlopen().
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

/* ---- the benchmark pair ---- */
int add(int a, int b) { return a + b; }
double hyp(double a, double b) { return sqrt(a * a + b * b); }

/* ---- every primitive in and out: identity functions and a "+1" ---- */
#define IDENTITY(name, type) \
    type id_##name(type x) { return x; }
IDENTITY(char, char)
IDENTITY(schar, signed char)
IDENTITY(uchar, unsigned char)
IDENTITY(short, short)
IDENTITY(ushort, unsigned short)
IDENTITY(int, int)
IDENTITY(uint, unsigned int)
IDENTITY(long, long)
IDENTITY(ulong, unsigned long)
IDENTITY(llong, long long)
IDENTITY(ullong, unsigned long long)
IDENTITY(float, float)
IDENTITY(double, double)
IDENTITY(ldouble, long double)
IDENTITY(bool, _Bool)
IDENTITY(wchar, wchar_t)
IDENTITY(int8, int8_t)
IDENTITY(uint8, uint8_t)
IDENTITY(int16, int16_t)
IDENTITY(uint16, uint16_t)
IDENTITY(int32, int32_t)
IDENTITY(uint32, uint32_t)
IDENTITY(int64, int64_t)
IDENTITY(uint64, uint64_t)
IDENTITY(size, size_t)
IDENTITY(intptr, intptr_t)
IDENTITY(uintptr, uintptr_t)
IDENTITY(ptr, void *)

/* Many arguments of mixed kinds (registers and stack on every ABI). */
double mixed_args(char c, short s, int i, long l, long long ll, float f, double d,
                  unsigned char uc, unsigned short us, unsigned int ui, unsigned long ul,
                  unsigned long long ull, long double ld) {
    return (double)c + s + i + l + ll + f + d + uc + us + ui + ul + ull + (double)ld;
}
float half_f(float x) { return x / 2.0f; }
/* Integer and floating arguments interleaved: each class fills its own registers. */
double interleaved(signed char a, double b, short c, float d, unsigned char e, double f, long g, float h) {
    return a + b * 2 + c * 3 + d * 4 + e * 5 + f * 6 + g * 7 + h * 8;
}
/* Six integer and eight floating parameters (all in registers on x86-64 and
 * AArch64), and one integer more (the seventh goes on the stack on x86-64). */
double all_registers(int a, int b, int c, int d, int e, int f, double g, double h, double i,
                     double j, double k, double l, double m, double n) {
    return a - b + c - d + e - f + g - h + i - j + k - l + m - n * 2;
}
long seven_ints(long a, long b, long c, long d, long e, long f, long g) {
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g;
}
short narrow_short(int x) { return (short)x; }
unsigned char narrow_uchar(int x) { return (unsigned char)x; }
float float_of(double x) { return (float)x; }
long double ld_mul(long double a, long double b) { return a * b; }
void nothing(void) {}
static int counter_value;
void bump(void) { counter_value++; }
int bumped(void) { return counter_value; }

/* ---- pointers ---- */
int sum_array(const int *a, int n) {
    int s = 0;
    for (int i = 0; i < n; i++) s += a[i];
    return s;
}
double sum_doubles(const double *a, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += a[i];
    return s;
}
void fill(int *out, int n) {
    for (int i = 0; i < n; i++) out[i] = i * i;
}
void swap_ints(int *a, int *b) { int t = *a; *a = *b; *b = t; }
const char *greet(void) { return "hello, world"; }
size_t my_strlen(const char *s) { return strlen(s); }
size_t wide_len(const wchar_t *s) { return wcslen(s); }
void *get_null(void) { return NULL; }
const char *null_string(void) { return NULL; }
int is_null(const void *p) { return p == NULL; }
int count_strings(const char **v) { /* NULL-terminated array of strings */
    int n = 0;
    while (v[n]) n++;
    return n;
}
static int static_ints[4] = {10, 20, 30, 40};
int *get_ints(void) { return static_ints; }
char first_char(const char *s) { return s[0]; }
void upper_inplace(char *s) {
    for (; *s; s++) if (*s >= 'a' && *s <= 'z') *s -= 32;
}

/* ---- structs and unions by value ---- */
struct pair { int a, b; };
struct mixed { double d; char c; };
struct big { long a, b, c, d, e; };
struct witharr { int n; short v[3]; };
struct fpair { float x, y; };
union num { int i; float f; };
struct bits { unsigned a : 3; unsigned b : 5; int c; };

struct pair make_pair(int a, int b) { struct pair p = {a, b}; return p; }
int pair_sum(struct pair p) { return p.a + p.b; }
struct pair pair_swap(struct pair p) { struct pair q = {p.b, p.a}; return q; }
int pair_ptr_sum(const struct pair *p) { return p->a + p->b; }
void pair_ptr_double(struct pair *p) { p->a *= 2; p->b *= 2; }
struct mixed make_mixed(double d, char c) { struct mixed m = {d, c}; return m; }
double mixed_total(struct mixed m) { return m.d + m.c; }
struct big make_big(long base) { struct big b = {base, base + 1, base + 2, base + 3, base + 4}; return b; }
long big_sum(struct big b) { return b.a + b.b + b.c + b.d + b.e; }
struct witharr make_witharr(int n) { struct witharr w = {n, {(short)n, (short)(n * 2), (short)(n * 3)}}; return w; }
int witharr_sum(struct witharr w) { return w.n + w.v[0] + w.v[1] + w.v[2]; }
struct fpair make_fpair(float x, float y) { struct fpair p = {x, y}; return p; }
float fpair_dot(struct fpair p, struct fpair q) { return p.x * q.x + p.y * q.y; }
union num make_num_i(int i) { union num n; n.i = i; return n; }
int num_as_int(union num n) { return n.i; }
struct bits make_bits(unsigned a, unsigned b, int c) { struct bits x = {a, b, c}; return x; }
int bits_sum(struct bits x) { return (int)(x.a + x.b) + x.c; }

/* ---- variadic ---- */
int sum_ints(int n, ...) {
    va_list ap;
    int s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) s += va_arg(ap, int);
    va_end(ap);
    return s;
}
double avg(int n, ...) {
    va_list ap;
    double s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) s += va_arg(ap, double);
    va_end(ap);
    return n ? s / n : 0.0;
}
long long sum_llongs(int n, ...) {
    va_list ap;
    long long s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) s += va_arg(ap, long long);
    va_end(ap);
    return s;
}
size_t total_len(int n, ...) { /* n strings */
    va_list ap;
    size_t s = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) s += strlen(va_arg(ap, const char *));
    va_end(ap);
    return s;
}

/* ---- globals ---- */
int g_int = 42;
double g_double = 2.5;
int g_array[5] = {1, 2, 3, 4, 5};
struct pair g_pair = {7, 8};
const char *g_str = "global string";
int *g_ptr = &g_array[2];
const int g_const = 1234;
char g_name[16] = "abi";
int read_g_int(void) { return g_int; }
double read_g_double(void) { return g_double; }
int read_g_array(int i) { return g_array[i]; }
int read_g_pair_sum(void) { return g_pair.a + g_pair.b; }
int read_g_ptr(void) { return *g_ptr; }

/* ---- errno ---- */
int set_errno(int v) { errno = v; return -1; }
int get_errno(void) { return errno; }

/* ---- callbacks ---- */
int apply(int (*f)(int, int), int a, int b) { return f(a, b); }
void call_n(void (*cb)(int), int n) {
    for (int i = 0; i < n; i++) cb(i);
}
double apply_d(double (*f)(double), double x) { return f(x); }
int apply_pair(int (*f)(struct pair *), int a, int b) {
    struct pair p = {a, b};
    int r = f(&p);
    return r + p.a + p.b; /* the callback may modify the struct */
}
struct pair apply_pair_val(struct pair (*f)(struct pair), int a, int b) {
    struct pair p = {a, b};
    return f(p);
}
int with_userdata(int (*f)(void *, int), void *userdata, int x) { return f(userdata, x); }
long long apply_ll(long long (*f)(long long), long long x) { return f(x); }
char apply_c(char (*f)(char), char x) { return f(x); }
float apply_f(float (*f)(float), float x) { return f(x); }
int apply_s(int (*f)(const char *), const char *s) { return f(s); }
static int (*stored_cb)(int, int);
void store_cb(int (*f)(int, int)) { stored_cb = f; }
int call_stored(int a, int b) { return stored_cb ? stored_cb(a, b) : -1; }

static int sub(int a, int b) { return a - b; }
int (*get_adder(void))(int, int) { return add; }
int (*get_sub(void))(int, int) { return sub; }
double (*get_hyp(void))(double, double) { return hyp; }
void *get_null_fn(void) { return NULL; }

/* ---- the GIL check ---- */
void spin_ms(int ms) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
        if (elapsed >= ms) return;
    }
}
