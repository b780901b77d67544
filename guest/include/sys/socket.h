/* wasmcffi: the sandbox's <sys/socket.h> is wasi-libc's, plus the calls that
 * open a connection, which it leaves out. A sandbox has no network: each fails
 * at run time with -1 and errno ENOSYS (guest/stubs.c). */
#include_next <sys/socket.h>

#ifndef WASMCFFI_SYS_SOCKET_H
#define WASMCFFI_SYS_SOCKET_H
#ifdef __cplusplus
extern "C" {
#endif
int socket(int, int, int);
int connect(int, const struct sockaddr *, socklen_t);
int bind(int, const struct sockaddr *, socklen_t);
int listen(int, int);
int setsockopt(int, int, int, const void *, socklen_t);
#ifdef __cplusplus
}
#endif
#endif
