/*
 * The descriptor calls as io_uring operations (uring_fd.h).
 */
#include "uring_fd.h"
#include "uring.h"
#include "../core/fd.h"
#include "../core/runtime.h"
#include "../core/wait.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#ifdef CORUN__HAVE_URING

/* Which of a descriptor's slots an operation takes. */
#define IN 1
#define OUT 2

/* Everything an operation needs before its submission is prepared: the
 * caller not canceled, the slots free (EBUSY), the deadline armed (none
 * for 0: corun__uop_wait gives the operation one go), a queue entry. The
 * entry to prepare, or NULL with errno. */
static struct io_uring_sqe *op_begin(struct corun__rt *rt, struct corun__uop *op,
				     struct corun__timer *t, struct corun__fd *f, int slots,
				     int64_t deadline)
{
	if (corun__may_block(rt) < 0)
		return NULL;
	op->slot[0] = op->slot[1] = NULL;
	if (slots & IN) {
		if (f->in) {
			errno = EBUSY;
			return NULL;
		}
		op->slot[0] = &f->in;
	}
	if (slots & OUT) {
		if (f->out) {
			errno = EBUSY;
			return NULL;
		}
		op->slot[1] = &f->out;
	}
	if (deadline > 0 && corun__arm_deadline(rt, t, CORUN__ID_DEADLINE, deadline) < 0)
		return NULL;
	struct io_uring_sqe *sqe = corun__uring_sqe(rt);
	if (!sqe && deadline > 0) {
		int saved = errno;
		corun__disarm(rt);
		errno = saved;
	}
	return sqe;
}

static int32_t op_end(struct corun__rt *rt, struct corun__uop *op, struct io_uring_sqe *sqe,
		      enum corun__wait_reason reason, int fd, int64_t deadline)
{
	corun__uop_start(rt, op, sqe);
	return corun__uop_wait(rt, op, reason, (uint64_t)fd, deadline);
}

/* A negative result as the call's: -1 with errno. A file the kernel had
 * no data for within one go (deadline 0) would have had to wait. */
static int fail(int32_t r, int64_t deadline)
{
	errno = r == -EAGAIN && deadline == 0 ? ETIMEDOUT : -r;
	return -1;
}

/* Wait for `events` on fd (poll(2)'s bits): the events that came, or a
 * negative errno. */
static int32_t poll_op(struct corun__rt *rt, int fd, struct corun__fd *f, int events,
		       int64_t deadline)
{
	struct corun__uop op;
	struct corun__timer t;
	int slots = (events & POLLIN ? IN : 0) | (events & POLLOUT ? OUT : 0);
	struct io_uring_sqe *sqe = op_begin(rt, &op, &t, f, slots, deadline);
	if (!sqe)
		return -errno;
	io_uring_prep_poll_add(sqe, fd, (unsigned)events);
	return op_end(rt, &op, sqe,
		      events == POLLIN    ? CORUN__WAIT_FD_READ
		      : events == POLLOUT ? CORUN__WAIT_FD_WRITE
					  : CORUN__WAIT_FD_EITHER,
		      fd, deadline);
}

int corun__uring_wait_fd(struct corun__rt *rt, int fd, int events, int64_t deadline)
{
	struct corun__fd *f = corun__fd_get(rt, fd, 0);
	if (!f)
		return -1;
	int32_t r = poll_op(rt, fd, f, events, deadline);
	if (r < 0)
		return fail(r, deadline);
	if (r & POLLNVAL) {
		errno = EBADF;
		return -1;
	}
	return r & (events | POLLERR | POLLHUP);
}

/* A file the kernel answered EAGAIN for (a kernel that does not arm a poll
 * for a non-blocking file by itself): wait for it, then try again. 0, or
 * -1 with errno. */
static int wait_ready(struct corun__rt *rt, int fd, struct corun__fd *f, int events,
		      int64_t deadline)
{
	int32_t r = poll_op(rt, fd, f, events, deadline);
	return r < 0 ? fail(r, deadline) : 0;
}

ssize_t corun__uring_read(struct corun__rt *rt, int fd, void *buf, size_t n, int64_t deadline)
{
	struct corun__fd *f = corun__fd_get(rt, fd, 1);
	if (!f)
		return -1;
	for (;;) {
		int sock = f->flags & CORUN__FD_SOCKET;
		struct corun__uop op;
		struct corun__timer t;
		struct io_uring_sqe *sqe = op_begin(rt, &op, &t, f, IN, deadline);
		if (!sqe)
			return -1;
		if (sock)
			io_uring_prep_recv(sqe, fd, buf, n, 0);
		else
			io_uring_prep_read(sqe, fd, buf, (unsigned)(n > 0x7ffff000 ? 0x7ffff000 : n),
					   (uint64_t)-1);
		int32_t r = op_end(rt, &op, sqe, CORUN__WAIT_FD_READ, fd, deadline);
		if (r >= 0)
			return r;
		if (r == -ENOTSOCK && sock) { /* the number names another file */
			if (corun__fd_relearn(rt, fd, f) < 0)
				return -1;
			continue;
		}
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN && deadline != 0) {
			if (wait_ready(rt, fd, f, POLLIN, deadline) < 0)
				return -1;
			continue;
		}
		return fail(r, deadline);
	}
}

ssize_t corun__uring_write(struct corun__rt *rt, int fd, const void *buf, size_t n,
			   int64_t deadline)
{
	struct corun__fd *f = corun__fd_get(rt, fd, 1);
	if (!f)
		return -1;
	size_t done = 0;
	do {
		/* write(2) to a socket raises SIGPIPE for a peer that is gone:
		 * a number that close(2) freed and a socket took must be sent
		 * to with MSG_NOSIGNAL. So before writing what is not known as
		 * a socket, one fcntl asks whether it is still open the way it
		 * was (a pipe's end is write-only, a socket both ways), as the
		 * epoll backend does before every such write. */
		if (!(f->flags & CORUN__FD_SOCKET)) {
			int fl = fcntl(fd, F_GETFL);
			if (fl < 0)
				return done ? (ssize_t)done : -1;
			if ((fl & O_ACCMODE) != (f->mode & O_ACCMODE) &&
			    corun__fd_relearn(rt, fd, f) < 0)
				return done ? (ssize_t)done : -1;
		}
		int sock = f->flags & CORUN__FD_SOCKET;
		struct corun__uop op;
		struct corun__timer t;
		struct io_uring_sqe *sqe = op_begin(rt, &op, &t, f, OUT, deadline);
		if (!sqe)
			return done ? (ssize_t)done : -1;
		const char *p = (const char *)buf + done;
		size_t left = n - done;
		if (left > 0x7ffff000)
			left = 0x7ffff000;
		if (sock)
			io_uring_prep_send(sqe, fd, p, left, MSG_NOSIGNAL);
		else
			io_uring_prep_write(sqe, fd, p, (unsigned)left, (uint64_t)-1);
		int32_t r = op_end(rt, &op, sqe, CORUN__WAIT_FD_WRITE, fd, deadline);
		if (r >= 0) {
			done += (size_t)r;
			continue;
		}
		if (r == -ENOTSOCK && sock) {
			if (corun__fd_relearn(rt, fd, f) < 0)
				return done ? (ssize_t)done : -1;
			continue;
		}
		if (r == -EINTR)
			continue;
		if (r == -EAGAIN && deadline != 0) {
			if (wait_ready(rt, fd, f, POLLOUT, deadline) < 0)
				return done ? (ssize_t)done : -1;
			continue;
		}
		if (done)
			return (ssize_t)done;
		return fail(r, deadline);
	} while (done < n);
	return (ssize_t)n;
}

int corun__uring_accept(struct corun__rt *rt, int fd, struct sockaddr *addr, socklen_t *len,
			int64_t deadline)
{
	struct corun__fd *f = corun__fd_get(rt, fd, 1);
	if (!f)
		return -1;
	for (;;) {
		struct corun__uop op;
		struct corun__timer t;
		struct io_uring_sqe *sqe = op_begin(rt, &op, &t, f, IN, deadline);
		if (!sqe)
			return -1;
		io_uring_prep_accept(sqe, fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int32_t c = op_end(rt, &op, sqe, CORUN__WAIT_FD_READ, fd, deadline);
		if (c >= 0) {
			/* Non-blocking already, and of the listener's kind;
			 * without memory for its entry, it is prepared at
			 * first use instead. */
			uint8_t kind = f->flags & (CORUN__FD_STREAM | CORUN__FD_SOCKET);
			struct corun__fd *cf = corun__fd_get(rt, c, 0);
			if (cf) {
				corun__fd_renew(cf, (uint8_t)(CORUN__FD_PREPARED | kind));
				cf->mode = O_RDWR;
			}
			return c;
		}
		if (c == -EINTR)
			continue;
		if (c == -EAGAIN && deadline != 0) {
			if (wait_ready(rt, fd, f, POLLIN, deadline) < 0)
				return -1;
			continue;
		}
		return fail(c, deadline);
	}
}

int corun__uring_connect(struct corun__rt *rt, int fd, const struct sockaddr *addr, socklen_t len,
			 int64_t deadline)
{
	struct corun__fd *f = corun__fd_get(rt, fd, 0);
	/* A socket being connected is a new one to us. */
	if (!f || corun__fd_relearn(rt, fd, f) < 0)
		return -1;
	struct corun__uop op;
	struct corun__timer t;
	struct io_uring_sqe *sqe = op_begin(rt, &op, &t, f, OUT, deadline);
	if (!sqe)
		return -1;
	io_uring_prep_connect(sqe, fd, addr, len);
	int32_t r = op_end(rt, &op, sqe, CORUN__WAIT_FD_WRITE, fd, deadline);
	/* A kernel that ran it on a worker, where the socket's own
	 * O_NONBLOCK holds: under way. Wait for it as epoll does, and ask
	 * connect(2) how it went (0, and EISCONN from then on; the error;
	 * EALREADY while under way). */
	while (r == -EINPROGRESS || r == -EALREADY) {
		if (wait_ready(rt, fd, f, POLLOUT, deadline) < 0)
			return -1;
		r = connect(fd, addr, len) == 0 || errno == EISCONN ? 0 : -errno;
	}
	return r < 0 ? fail(r, deadline) : 0;
}

void corun__uring_close(struct corun__rt *rt, struct corun__fd *f)
{
	struct corun__uop *in = (struct corun__uop *)f->in, *out = (struct corun__uop *)f->out;
	if (in)
		corun__uop_cancel(rt, in);
	if (out && out != in)
		corun__uop_cancel(rt, out);
}

#else /* no io_uring: never the backend */

int corun__uring_wait_fd(struct corun__rt *rt, int fd, int events, int64_t deadline)
{
	(void)rt, (void)fd, (void)events, (void)deadline;
	errno = ENOSYS;
	return -1;
}

ssize_t corun__uring_read(struct corun__rt *rt, int fd, void *buf, size_t n, int64_t deadline)
{
	(void)rt, (void)fd, (void)buf, (void)n, (void)deadline;
	errno = ENOSYS;
	return -1;
}

ssize_t corun__uring_write(struct corun__rt *rt, int fd, const void *buf, size_t n,
			   int64_t deadline)
{
	(void)rt, (void)fd, (void)buf, (void)n, (void)deadline;
	errno = ENOSYS;
	return -1;
}

int corun__uring_accept(struct corun__rt *rt, int fd, struct sockaddr *addr, socklen_t *len,
			int64_t deadline)
{
	(void)rt, (void)fd, (void)addr, (void)len, (void)deadline;
	errno = ENOSYS;
	return -1;
}

int corun__uring_connect(struct corun__rt *rt, int fd, const struct sockaddr *addr, socklen_t len,
			 int64_t deadline)
{
	(void)rt, (void)fd, (void)addr, (void)len, (void)deadline;
	errno = ENOSYS;
	return -1;
}

void corun__uring_close(struct corun__rt *rt, struct corun__fd *f)
{
	(void)rt, (void)f;
}

#endif
