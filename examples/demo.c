/* The C helper of the demo: built into a sandboxed module and a native one. */
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

typedef struct { double x, y; } vec2;

int add(int a, int b) { return a + b; }

/* FNV-1a: a small hash over a byte buffer the caller passes in. */
uint32_t fnv1a(const unsigned char *data, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) { h ^= data[i]; h *= 16777619u; }
    return h;
}

double dot(vec2 *a, vec2 *b) { return a->x * b->x + a->y * b->y; }

void hello(const char *who) { printf("hello, %s, from C\n", who); fflush(stdout); }

int read_past_the_end(int *p) { return p[1 << 28]; }

void spin_forever(void) { for (volatile unsigned i = 0;; i++) {} }

/* Calls back into Python: `progress` is implemented with @ffi.def_extern(). */
static int progress(int percent);
int work(int steps) {
    int seen = 0;
    for (int i = 1; i <= steps; i++) seen += progress(100 * i / steps);
    return seen;
}
