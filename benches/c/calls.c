/* The functions of the call-overhead suite: each does almost nothing, so a
 * call's cost is the cost of getting into C and back. The same file is built
 * as a sandboxed module, a native module, a shared library (dlopen, ctypes)
 * and a cffi extension. */
#include <math.h>
#include <stddef.h>

typedef struct { int x, y; } point_t;

void nop(void) {}

int add(int a, int b) { return a + b; }

double hyp(double a, double b) { return sqrt(a * a + b * b); }

int norm1(const point_t *p) { return (p->x < 0 ? -p->x : p->x) + (p->y < 0 ? -p->y : p->y); }

/* Reads only the two ends: the cost measured is passing the bytes in. */
int byte_ends(const char *data, size_t n) {
    return n ? (unsigned char)data[0] + (unsigned char)data[n - 1] : -1;
}

const char *greeting(void) { return "hello, sandbox"; }
