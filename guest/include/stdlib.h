/* wasmcffi: the sandbox's <stdlib.h> is wasi-libc's, plus the temporary-file
 * calls it leaves out (they fail with ENOSYS: a sandbox has no temporary
 * directory). */
#include_next <stdlib.h>

#ifndef WASMCFFI_STDLIB_H
#define WASMCFFI_STDLIB_H
#ifdef __cplusplus
extern "C" {
#endif
int mkstemp(char *);
char *mkdtemp(char *);
#ifdef __cplusplus
}
#endif
#endif
