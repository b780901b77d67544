/* wasmcffi: the sandbox's <unistd.h> is wasi-libc's, plus the process calls
 * portable C uses and wasi-libc leaves out. A sandbox runs no other process:
 * each fails at run time with -1 and errno ENOSYS (guest/stubs.c). */
#include_next <unistd.h>

#ifndef WASMCFFI_UNISTD_H
#define WASMCFFI_UNISTD_H
#ifdef __cplusplus
extern "C" {
#endif
pid_t fork(void);
pid_t vfork(void);
int execv(const char *, char *const[]);
int execve(const char *, char *const[], char *const[]);
int execvp(const char *, char *const[]);
int execl(const char *, const char *, ...);
int execle(const char *, const char *, ...);
int execlp(const char *, const char *, ...);
int pipe(int[2]);
int dup(int);
int dup2(int, int);
#ifdef __cplusplus
}
#endif
#endif
