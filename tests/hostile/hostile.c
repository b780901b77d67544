/* Hostile guest helpers: C written to attack the host that runs it.
 *
 * Built once into one sandboxed module by tests/python/test_hostile.py; each
 * test case calls one or a few of these from a child Python process and checks
 * the exception or value the host must produce (and that the host survives).
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node { int value; struct node *next; };

int add(int a, int b) { return a + b; }

/* ---- out-of-bounds accesses by the guest itself ---- */
int oob_read(void) { return *(volatile int *)(uintptr_t)0xFFFFFFF0u; }
void oob_write(void) { *(volatile int *)(uintptr_t)0xFFFFFFF0u = 1; }
int oob_read_past_memory(void) {
    /* Just past the current end of linear memory. */
    uintptr_t end = __builtin_wasm_memory_size(0) * 65536u;
    return *(volatile int *)end;
}

/* ---- wild pointers and huge lengths handed to the host ---- */
char *wild_string(void) { return (char *)(uintptr_t)0xFFFFFFF0u; }
char *string_at_the_end(void) {
    /* The last 64 bytes of memory, none of them NUL: the string runs off the end. */
    char *end = (char *)(uintptr_t)(__builtin_wasm_memory_size(0) * 65536u);
    memset(end - 64, 'A', 64);
    return end - 64;
}
struct node *wild_node(void) { return (struct node *)(uintptr_t)0xFFFFFFF8u; }
static struct node chain = { 1, (struct node *)(uintptr_t)0xFFFFFF00u };
struct node *node_with_wild_next(void) { return &chain; }
static char small[16] = "short";
char *small_buffer(void) { return small; }
size_t huge_length(void) { return 0x7FFFFFFFu; }
size_t max_length(void) { return SIZE_MAX; }
char *wild_global = (char *)(uintptr_t)0xFFFFFF00u;

/* ---- CPU ---- */
void spin(void) { for (volatile unsigned i = 0;; i++) {} }
int busy(int n) { volatile int s = 0; for (int i = 0; i < n; i++) s += i; return s; }
int recurse(int n) { volatile int pad = n; return n <= 0 ? 0 : recurse(n - 1) + pad; }
int big_frames(int n) {
    volatile char frame[65536];
    frame[n % 65536] = (char)n;
    return n <= 0 ? 0 : big_frames(n - 1) + frame[n % 65536];
}
unsigned sleep_long(void) { return sleep(100000); }

/* ---- memory ---- */
static void *volatile kept;
int malloc_bomb(void) {
    int n = 0;
    while ((kept = malloc(1 << 20)) != NULL && n < 100000) n++;
    return n;
}
int grow_flood(void) {
    int pages = 0;
    while (__builtin_wasm_memory_grow(0, 1) != (size_t)-1 && pages < 70000) pages++;
    return pages;
}
int grow_huge(void) { return (int)__builtin_wasm_memory_grow(0, 65535); }
int calloc_overflow(void) { kept = calloc(SIZE_MAX / 2, 4); return kept == NULL; }

/* ---- faults ---- */
void do_exit(int code) { exit(code); }
void do_abort(void) { abort(); }
void do_trap(void) { __builtin_trap(); }
int divide(int a, int b) { return a / b; }
int remainder_of(int a, int b) { return a % b; }
void call_null(void) { void (*volatile f)(void) = 0; f(); }
typedef int (*binop)(int, int);
int call_bad_index(void) { binop volatile f = (binop)(uintptr_t)0x7FFFFFF; return f(1, 2); }
int call_wrong_type(void) {
    /* A function of another signature through a mistyped pointer. */
    int (*volatile f)(int, int, int, int, int) = (int (*)(int, int, int, int, int))(void *)&spin;
    return f(1, 2, 3, 4, 5);
}
void smash_heap(char *p) {
    /* Overwrite the allocator's bookkeeping around a block the host allocated. */
    memset(p - 16, 0xFF, 96);
}

/* ---- the world outside ---- */
int open_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return -1;
    int n = 0;
    while (fgetc(f) != EOF) n++;
    fclose(f);
    return n;
}
int write_file(const char *path) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    int ok = fputs("written by the guest", f) >= 0;
    return (fclose(f) == 0 && ok) ? 1 : -2;
}
const char *read_env(const char *name) { return getenv(name); }
int count_env(void) { extern char **environ; int n = 0; while (environ[n]) n++; return n; }
int print_flood(int megabytes) {
    static char line[1024];
    memset(line, 'x', sizeof line - 1);
    for (int i = 0; i < megabytes * 1024; i++) fputs(line, stdout);
    return 0;
}
#include <wasi/api.h>
int count_args(void) {
    __wasi_size_t argc = 0, size = 0;
    if (__wasi_args_sizes_get(&argc, &size) != 0) return -1;
    return (int)argc;
}
void *forged_handle(void) { return (void *)(uintptr_t)0x12345678u; }
#include <time.h>
long long wall_clock(void) { return (long long)time(NULL); }
long long monotonic_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return -1;
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
unsigned random_word(void) {
    unsigned word = 0;
    if (getentropy(&word, sizeof word) != 0) return 0;
    return word;
}
/* Runs when an instance starts (the reactor's _initialize). */
__attribute__((constructor)) static void maybe_hang(void) {
    if (getenv("HANG_IN_CONSTRUCTOR") != NULL)
        for (volatile unsigned i = 0;; i++) {}
}
/* Callbacks: guest code calling back into Python, which attacks in turn. */
int call_back(int (*cb)(int), int x) { return cb(x) + 1; }
int read_through(char *(*cb)(void)) { return *cb(); }
