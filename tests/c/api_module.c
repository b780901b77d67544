/* C compiled into the API-mode test module, for both targets (wasm32 sandbox and native). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { int x, y; } point_t;
struct particle { double mass; int id; char tag[6]; double velocity; };  /* cdef'd partially */
typedef unsigned short small_id_t;                                       /* typedef int... */
typedef double real_t;                                                   /* typedef float... */
enum color { RED, GREEN = 10, BLUE };
#define MAGIC 0x2a
#define NEG_MAGIC (-7)

int counter = 5;
double table[4] = {1.5, 2.5, 3.5, 4.5};
point_t origin = {1, 2};

int add(int a, int b) { return a + b; }
double scale(double v, real_t k) { return v * k; }
long long widen(int v) { return (long long)v << 33; }
int sum_array(const int *a, int n) { int s = 0; for (int i = 0; i < n; i++) s += a[i]; return s; }
size_t length(const char *s) { return strlen(s); }
const char *greeting(void) { return "hello from C"; }
void fill(int *out, int n) { for (int i = 0; i < n; i++) out[i] = i * i; }
int norm1(point_t *p) { return abs(p->x) + abs(p->y); }
point_t make_point(int x, int y) { point_t p = { x, y }; return p; }
int point_sum(point_t p) { return p.x + p.y; }
double particle_energy(struct particle *p) { return 0.5 * p->mass * p->velocity * p->velocity; }
small_id_t next_id(small_id_t id) { return (small_id_t)(id + 1); }
int bump(void) { return ++counter; }
void say(const char *text) { printf("%s\n", text); fflush(stdout); }
int divide(int a, int b) { return a / b; }
void crash(void) { __builtin_trap(); }
void leave(int code) { exit(code); }
int recurse(int n) { volatile char pad[256]; pad[0] = (char)n; return n <= 0 ? pad[0] : recurse(n - 1) + pad[0]; }
/* Narrow and mixed scalars: each travels as a plain wasm value on the direct route. */
signed char negate_schar(signed char c) { return (signed char)-c; }
unsigned char flip_uchar(unsigned char c) { return (unsigned char)~c; }
short twice_short(short s) { return (short)(s * 2); }
unsigned short ushort_max(void) { return 0xffff; }
float halve(float f) { return f / 2; }
_Bool is_even(long v) { return v % 2 == 0; }
char upper(char c) { return (char)(c >= 'a' && c <= 'z' ? c - 32 : c); }
unsigned long long mix(int a, long long b, float c, double d, unsigned char e) {
    return (unsigned long long)(a + b + (long long)c + (long long)d + e);
}
int *nth(int *base, int i) { return base + i; }
enum color next_color(enum color c) { return c == RED ? GREEN : BLUE; }
/* Variadic functions: the variadic part travels as CFFI passes it (cdata only, promoted). */
#include <stdarg.h>
int sum_ints(int n, ...) {
    va_list ap; va_start(ap, n);
    int s = 0; for (int i = 0; i < n; i++) s += va_arg(ap, int);
    va_end(ap); return s;
}
double avg(int n, ...) {
    va_list ap; va_start(ap, n);
    double s = 0; for (int i = 0; i < n; i++) s += va_arg(ap, double);
    va_end(ap); return n ? s / n : 0;
}
int format(char *out, size_t size, const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    int r = vsnprintf(out, size, fmt, ap);
    va_end(ap); return r;
}
