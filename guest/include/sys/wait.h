/* wasmcffi: <sys/wait.h> for the sandbox, which wasi-libc does not have (the
 * compiler's fallback copy needs signal types WASI lacks). A sandbox has no
 * child processes: wait() and waitpid() fail with -1 and errno ECHILD
 * (guest/stubs.c). The status macros are POSIX's, for code that inspects the
 * status of system() or pclose(). */
#ifndef WASMCFFI_SYS_WAIT_H
#define WASMCFFI_SYS_WAIT_H
#include <sys/types.h>
#include <stdlib.h> /* wasi-libc defines some of the status macros there */
#ifdef __cplusplus
extern "C" {
#endif
pid_t wait(int *);
pid_t waitpid(pid_t, int *, int);
#ifdef __cplusplus
}
#endif

#define WNOHANG 1
#define WUNTRACED 2
#ifndef WEXITSTATUS
#define WEXITSTATUS(s) (((s) & 0xff00) >> 8)
#endif
#ifndef WTERMSIG
#define WTERMSIG(s) ((s) & 0x7f)
#endif
#ifndef WSTOPSIG
#define WSTOPSIG(s) WEXITSTATUS(s)
#endif
#ifndef WIFEXITED
#define WIFEXITED(s) (!WTERMSIG(s))
#endif
#ifndef WIFSTOPPED
#define WIFSTOPPED(s) ((short)((((s) & 0xffff) * 0x10001U) >> 8) > 0x7f00)
#endif
#ifndef WIFSIGNALED
#define WIFSIGNALED(s) (((s) & 0xffff) - 1U < 0xffu)
#endif
#endif
