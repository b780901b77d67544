/* The C linked into every sandboxed wasmcffi module.
 *
 * The host allocates cdata (`ffi.new`) in the guest's linear memory through these
 * exports, so host and guest share one allocator: a block made by `ffi.new` may be
 * passed to C that frees it with free(), and vice versa.
 *
 *   wasmcffi_malloc(size, align) -> ptr   zeroed, aligned to `align` (a power of two);
 *                                         0 when out of memory
 *   wasmcffi_malloc_uninit(size, align)   the same, not zeroed (for blocks the host
 *                                         overwrites at once: call temporaries)
 *   wasmcffi_free(ptr)                    free(); NULL is ignored
 *   wasmcffi_errno_location() -> ptr      &errno, which the host sets before
 *                                         each call and reads after it (ffi.errno)
 *
 * What a sandbox cannot do (`system`, `fork`, `socket`, ...) is in stubs.c,
 * linked beside it.
 *
 * It also defines `__c_longjmp`, the exception tag `longjmp` throws (LLVM lowers
 * setjmp/longjmp onto WebAssembly exceptions; wasi-libc's runtime half throws
 * this tag but leaves its definition to the program).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/types.h>

/* Not calloc: zig's wasm32 calloc zeroes with a plain loop, ~10x slower than
 * memset, which compiles to the bulk-memory `memory.fill`. malloc is called
 * through a volatile pointer because compilers turn malloc + memset(0) back
 * into calloc. */
static void *(*volatile plain_malloc)(size_t) = malloc;

/* `size` bytes (at least 1) aligned to `align`, not zeroed; NULL on failure. */
static void *allocate(size_t *size, size_t align)
{
    if (*size == 0)
        *size = 1;                /* a unique, non-NULL address even for 0 bytes */
    if (align <= _Alignof(max_align_t))
        return plain_malloc(*size); /* malloc already aligns to max_align_t (16) */
    if ((align & (align - 1)) != 0)
        return NULL;              /* not a power of two */
    if (*size > (size_t)-1 - align)
        return NULL;
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    *size = (*size + align - 1) & ~(align - 1);
    return aligned_alloc(align, *size);
}

__attribute__((export_name("wasmcffi_malloc")))
void *wasmcffi_malloc(size_t size, size_t align)
{
    void *p = allocate(&size, align);
    if (p != NULL)
        memset(p, 0, size);
    return p;
}

__attribute__((export_name("wasmcffi_malloc_uninit")))
void *wasmcffi_malloc_uninit(size_t size, size_t align)
{
    return allocate(&size, align);
}

__attribute__((export_name("wasmcffi_free")))
void wasmcffi_free(void *ptr)
{
    free(ptr);
}

__attribute__((export_name("wasmcffi_errno_location")))
int *wasmcffi_errno_location(void)
{
    return &errno;
}

/* The tag of a longjmp: one i32, a pointer to the jump's (env, value). */
__asm__(".globl __c_longjmp\n.tagtype __c_longjmp i32\n__c_longjmp:\n");
