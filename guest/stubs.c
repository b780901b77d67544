/* What a sandbox cannot do, defined so that portable C compiles and links
 * unchanged and fails at run time instead: each call below returns -1 (or
 * NULL) with errno ENOSYS, except where POSIX names a better error. The
 * declarations wasi-libc leaves out are in guest/include.
 *
 * Each definition is weak (a libc or a source that has the real function
 * wins) and marked SANDBOX_STUB: the build lists the stubs a module links
 * (`wasmcffi.sandbox(lib).stubbed_calls`). Only the ones a module calls are
 * linked. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define SANDBOX_STUB __attribute__((weak))

static int unsupported(void)
{
    errno = ENOSYS;
    return -1;
}

/* Processes: a sandbox runs no other program. */
/* system(NULL) asks whether there is a shell: there is none. */
SANDBOX_STUB int system(const char *command) { return command ? unsupported() : 0; }
SANDBOX_STUB pid_t fork(void) { return unsupported(); }
SANDBOX_STUB pid_t vfork(void) { return unsupported(); }
SANDBOX_STUB int execv(const char *path, char *const argv[]) { (void)path, (void)argv; return unsupported(); }
SANDBOX_STUB int execve(const char *path, char *const argv[], char *const envp[]) { (void)path, (void)argv, (void)envp; return unsupported(); }
SANDBOX_STUB int execvp(const char *file, char *const argv[]) { (void)file, (void)argv; return unsupported(); }
SANDBOX_STUB int execl(const char *path, const char *arg, ...) { (void)path, (void)arg; return unsupported(); }
SANDBOX_STUB int execle(const char *path, const char *arg, ...) { (void)path, (void)arg; return unsupported(); }
SANDBOX_STUB int execlp(const char *file, const char *arg, ...) { (void)file, (void)arg; return unsupported(); }
SANDBOX_STUB FILE *popen(const char *command, const char *mode) { (void)command, (void)mode; unsupported(); return NULL; }
SANDBOX_STUB int pclose(FILE *stream) { (void)stream; return unsupported(); }
SANDBOX_STUB int pipe(int fds[2]) { (void)fds; return unsupported(); }
SANDBOX_STUB int dup(int fd) { (void)fd; return unsupported(); }
SANDBOX_STUB int dup2(int fd, int to) { (void)fd, (void)to; return unsupported(); }
SANDBOX_STUB pid_t wait(int *status) { (void)status; errno = ECHILD; return -1; }
SANDBOX_STUB pid_t waitpid(pid_t pid, int *status, int options) { (void)pid, (void)status, (void)options; errno = ECHILD; return -1; }

/* Temporary files: a sandbox has no temporary directory. */
SANDBOX_STUB int mkstemp(char *template_) { (void)template_; return unsupported(); }
SANDBOX_STUB char *mkdtemp(char *template_) { (void)template_; unsupported(); return NULL; }
SANDBOX_STUB FILE *tmpfile(void) { unsupported(); return NULL; }
SANDBOX_STUB char *tmpnam(char *name) { (void)name; unsupported(); return NULL; }

/* Network: a sandbox opens no connection. */
SANDBOX_STUB int socket(int domain, int type, int protocol) { (void)domain, (void)type, (void)protocol; return unsupported(); }
SANDBOX_STUB int connect(int fd, const struct sockaddr *address, socklen_t size) { (void)fd, (void)address, (void)size; return unsupported(); }
SANDBOX_STUB int bind(int fd, const struct sockaddr *address, socklen_t size) { (void)fd, (void)address, (void)size; return unsupported(); }
SANDBOX_STUB int listen(int fd, int backlog) { (void)fd, (void)backlog; return unsupported(); }
SANDBOX_STUB int setsockopt(int fd, int level, int name, const void *value, socklen_t size) { (void)fd, (void)level, (void)name, (void)value, (void)size; return unsupported(); }

/* Stream locks: the guest has one thread, so there is nothing to lock. */
SANDBOX_STUB void flockfile(FILE *stream) { (void)stream; }
SANDBOX_STUB int ftrylockfile(FILE *stream) { (void)stream; return 0; }
SANDBOX_STUB void funlockfile(FILE *stream) { (void)stream; }
