/* wasmcffi: the sandbox's <stdio.h> is wasi-libc's, plus the POSIX calls that
 * portable C uses and wasi-libc leaves out. The guest runtime (guest/stubs.c)
 * defines them: popen() fails with ENOSYS; the stream locks do nothing in the
 * single-threaded guest. */
#include_next <stdio.h>

#ifndef WASMCFFI_STDIO_H
#define WASMCFFI_STDIO_H
#ifdef __cplusplus
extern "C" {
#endif
FILE *popen(const char *, const char *);
int pclose(FILE *);
void flockfile(FILE *);
int ftrylockfile(FILE *);
void funlockfile(FILE *);
#ifdef __cplusplus
}
#endif
#endif
