/*
 * The descriptor calls on the io_uring backend (uring_fd.c): corun_read,
 * corun_write, corun_accept, corun_connect, corun_wait_fd and the part of
 * corun_close that cancels what is in flight, each an operation on the
 * runtime's ring (uring.h). fd.c makes the checks every call starts with
 * and hands over to these when the runtime's backend is io_uring.
 *
 * What fd.c keeps per descriptor serves here too: its kind (a socket is
 * received from and sent to with MSG_NOSIGNAL, anything else read and
 * written), and its two slots, which hold the operation waiting for input
 * and the one for output, so that corun_close finds what to cancel and a
 * second waiter for the same direction gets EBUSY, as on epoll.
 */
#ifndef CORUN_IO_URING_FD_H
#define CORUN_IO_URING_FD_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct corun__rt;
struct corun__fd;

int corun__uring_wait_fd(struct corun__rt *rt, int fd, int events, int64_t deadline);
ssize_t corun__uring_read(struct corun__rt *rt, int fd, void *buf, size_t n, int64_t deadline);
ssize_t corun__uring_write(struct corun__rt *rt, int fd, const void *buf, size_t n,
			   int64_t deadline);
int corun__uring_accept(struct corun__rt *rt, int fd, struct sockaddr *addr, socklen_t *len,
			int64_t deadline);
int corun__uring_connect(struct corun__rt *rt, int fd, const struct sockaddr *addr, socklen_t len,
			 int64_t deadline);
/* Cancel the operations waiting on f: they end with EBADF. */
void corun__uring_close(struct corun__rt *rt, struct corun__fd *f);

#endif
