/*
 * Descriptors: the calls that wait instead of failing with EAGAIN, the
 * runtime's epoll instance, and the collection of its reports (fd.h).
 */
#include "fd.h"
#include "layout.h"
#include "wait.h"
#include "../failpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Reported once and true for good: the peer finished (RDHUP), hung up,
 * or the connection failed. Later reports still carry them. */
#define FINAL (EPOLLRDHUP | EPOLLHUP | EPOLLERR)

/* Waiter ids: which direction fired. */
#define ID_IN 1
#define ID_OUT 2

/* ---- the table ---- */

/* The state of fd, the table grown to hold it; NULL with ENOMEM. A new
 * entry may be tried in both directions: nothing is known yet. */
static struct corun__fd *entry(struct corun__rt *rt, int fd)
{
	if ((size_t)fd < rt->nfds)
		return &rt->fds[fd];
	size_t n = rt->nfds ? rt->nfds : 64;
	while (n <= (size_t)fd)
		n *= 2;
	struct corun__fd *t = corun__realloc(CORUN__FAIL_FDS, rt->fds, n * sizeof *t);
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = rt->nfds; i < n; i++)
		t[i] = (struct corun__fd){ .flags = CORUN__FD_IN | CORUN__FD_OUT };
	rt->fds = t;
	rt->nfds = n;
	return &t[fd];
}

/* The number names a new file (accepted, connected, closed): forget the
 * old one. Its stale reports, if any, carry the old generation. */
static void renew(struct corun__fd *f, uint8_t flags)
{
	f->gen++;
	f->events = 0;
	f->flags = (uint8_t)(CORUN__FD_IN | CORUN__FD_OUT | flags);
}

/* Make fd non-blocking, and learn whether it is a stream, once. */
static int prepare(int fd, struct corun__fd *f)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (S_ISFIFO(st.st_mode)) {
		f->flags |= CORUN__FD_STREAM;
	} else if (S_ISSOCK(st.st_mode)) {
		int type;
		socklen_t len = sizeof type;
		f->flags |= CORUN__FD_SOCKET;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
			f->flags |= CORUN__FD_STREAM;
	}
	f->flags |= CORUN__FD_PREPARED;
	return 0;
}

/* What every call starts with: the runtime, the caller not canceled, fd's
 * state (prepared if `ready` says so). NULL with errno. */
static struct corun__fd *begin(struct corun__rt **rtp, int fd, int64_t deadline, int ready)
{
	if (fd < 0) {
		errno = EBADF;
		return NULL;
	}
	if (deadline < -1) {
		errno = EINVAL;
		return NULL;
	}
	struct corun__rt *rt = corun__rt_get();
	if (!rt || corun__may_block(rt) < 0)
		return NULL;
	/* The epoll instance comes with the thread's first descriptor call,
	 * not its first wait: a server that runs out of descriptors before it
	 * ever had to wait still has it, and its waits still work. */
	if (rt->epfd < 0 && corun__epoll(rt) < 0)
		return NULL;
	struct corun__fd *f = entry(rt, fd);
	if (f && ready && !(f->flags & CORUN__FD_PREPARED) && prepare(fd, f) < 0)
		return NULL;
	*rtp = rt;
	return f;
}

/* ---- epoll ---- */

int corun__epoll(struct corun__rt *rt)
{
	if (rt->epfd < 0) {
		if (corun__fail(CORUN__FAIL_EPOLL)) {
			errno = ENOMEM;
			return -1;
		}
		rt->epfd = epoll_create1(EPOLL_CLOEXEC);
	}
	return rt->epfd;
}

static int enroll(struct corun__rt *rt, int fd, struct corun__fd *f)
{
	int ep = corun__epoll(rt);
	if (ep < 0)
		return -1;
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = (uint64_t)(uint32_t)fd | (uint64_t)f->gen << 32,
	};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 &&
	    (errno != EEXIST || epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0))
		return -1;
	f->flags |= CORUN__FD_EPOLL;
	return 0;
}

static void fire_slot(struct corun__rt *rt, struct corun__waiter **slot, int err)
{
	struct corun__waiter *w = *slot;
	if (w) {
		*slot = NULL;
		rt->fd_waiting--;
		corun__fire(rt, w, err);
	}
}

/* One report: mark what is ready, and wake who waits for it. An error or a
 * hang-up makes both directions ready: the call then meets it. */
static int report(struct corun__rt *rt, const struct epoll_event *ev)
{
	uint32_t fd = (uint32_t)ev->data.u64, gen = (uint32_t)(ev->data.u64 >> 32);
	if (fd >= rt->nfds)
		return 0;
	struct corun__fd *f = &rt->fds[fd];
	if (f->gen != gen || !(f->flags & CORUN__FD_EPOLL))
		return 0; /* a file since closed */
	uint32_t e = ev->events;
	int fired = 0;
	f->events = e;
	if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		f->flags |= CORUN__FD_IN;
		fired += f->in != NULL;
		fire_slot(rt, &f->in, 0);
	}
	if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
		f->flags |= CORUN__FD_OUT;
		fired += f->out != NULL;
		fire_slot(rt, &f->out, 0);
	}
	return fired;
}

/* epoll_pwait2 takes nanoseconds (Linux 5.11); valgrind 3.19 and older
 * kernels do not know it: then epoll_wait, rounding up to whole ms. */
static _Atomic int no_pwait2;

static int wait_events(int ep, struct epoll_event *evs, int n, int64_t timeout_ns)
{
	if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
		struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
		int r = epoll_pwait2(ep, evs, n, timeout_ns < 0 ? NULL : &ts, NULL);
		if (r >= 0 || errno != ENOSYS)
			return r;
		atomic_store_explicit(&no_pwait2, 1, memory_order_relaxed);
	}
	int64_t ms = timeout_ns < 0 ? -1 : (timeout_ns + 999999) / 1000000;
	return epoll_wait(ep, evs, n, ms > 1000000000 ? 1000000000 : (int)ms);
}

/* As many reports as a hand-written loop takes per epoll_wait: with
 * thousands of busy connections, fewer would mean more calls. */
#define BATCH 1024

static int64_t coarse_now(void)
{
	struct timespec c;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &c);
	return (int64_t)c.tv_sec * 1000000000 + c.tv_nsec;
}

int corun__poll(struct corun__rt *rt, int64_t timeout_ns)
{
	int ep = corun__epoll(rt);
	if (ep < 0) { /* only deadlines can be pending: sleep to the nearest */
		if (timeout_ns > 0) {
			struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
			nanosleep(&ts, NULL);
		}
		return 0;
	}
	struct epoll_event evs[BATCH];
	int n = wait_events(ep, evs, BATCH, timeout_ns), fired = 0;
	for (int i = 0; i < n; i++)
		fired += report(rt, &evs[i]);
	/* Reports were just read: main's turns need not read them again
	 * before the next tick of the coarse clock. */
	rt->poll_next = coarse_now() + 1;
	return fired;
}

void corun__poll_due(struct corun__rt *rt)
{
	if (coarse_now() >= rt->poll_next)
		corun__poll(rt, 0);
}

/* ---- waiting ---- */

static void withdraw_fd(struct corun__rt *rt, struct corun__waiter *w)
{
	struct corun__fd *f = &rt->fds[(intptr_t)w->ptr];
	struct corun__waiter **slot = w->id == ID_IN ? &f->in : &f->out;
	if (*slot == w) {
		*slot = NULL;
		rt->fd_waiting--;
	}
}

/* For debuggers (layout.h): a wait on a descriptor (its number in ptr), and
 * for which direction (its id). */
const struct corun__layout_entry corun__layout_fd[] = {
	CORUN__LAYOUT_FN("wd.fd", withdraw_fd),
	CORUN__LAYOUT_VAL("fd.id_in", ID_IN),
	CORUN__LAYOUT_VAL("fd.id_out", ID_OUT),
	CORUN__LAYOUT_END
};

/* Put w in fd's slot for one direction (`id`), registering fd first. */
static int arm_fd(struct corun__rt *rt, int fd, struct corun__waiter *w, int id)
{
	struct corun__fd *f = &rt->fds[fd];
	struct corun__waiter **slot = id == ID_IN ? &f->in : &f->out;
	if (*slot) {
		errno = EBUSY;
		return -1;
	}
	if (!(f->flags & CORUN__FD_EPOLL) && enroll(rt, fd, f) < 0)
		return -1;
	corun__arm(rt, w, id, withdraw_fd);
	w->ptr = (void *)(intptr_t)fd;
	*slot = w;
	rt->fd_waiting++;
	/* Main, waiting aside in corun__drive, must take turns in the ring
	 * now, so that busy coroutines cannot keep reports from being read. */
	if (rt->main.state == CORUN__BLOCKED && rt->current != &rt->main)
		corun__make_ready(rt, &rt->main);
	return 0;
}

/* Wait until the kernel reports fd ready for `events` (POLLIN, POLLOUT or
 * both), or the deadline. The ids of what fired (ID_IN, ID_OUT), or -1
 * with errno. The caller has found it must wait. */
static int wait_fd(struct corun__rt *rt, int fd, int events, int64_t deadline)
{
	if (corun__may_wait(rt, deadline) < 0)
		return -1;
	struct corun__timer t;
	struct corun__waiter in, out;
	if (corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0)
		return -1;
	if (((events & POLLIN) && arm_fd(rt, fd, &in, ID_IN) < 0) ||
	    ((events & POLLOUT) && arm_fd(rt, fd, &out, ID_OUT) < 0)) {
		int saved = errno; /* take back what was armed */
		corun__disarm(rt);
		errno = saved;
		return -1;
	}
	uint32_t gen = rt->fds[fd].gen;
	int err, id = corun__wait(rt, CORUN__WAIT_FD, &err);
	if (id < 0 || err) {
		errno = err;
		return -1;
	}
	/* Fired, and then closed by another before we ran: the number may
	 * name another file by now. */
	if (rt->fds[fd].gen != gen) {
		errno = EBADF;
		return -1;
	}
	return id;
}

/* ---- the calls ---- */

int corun_wait_fd(int fd, int events, int64_t deadline)
{
	if (!events || (events & ~(POLLIN | POLLOUT))) {
		errno = EINVAL;
		return -1;
	}
	struct corun__rt *rt;
	struct corun__fd *f = begin(&rt, fd, deadline, 0);
	if (!f)
		return -1;
	/* Level-triggered, as poll(2): the bits above are only hints, since
	 * the caller makes its own system calls. */
	struct pollfd p = { .fd = fd, .events = (short)events };
	if (poll(&p, 1, 0) < 0)
		return -1;
	if (p.revents & POLLNVAL) {
		errno = EBADF;
		return -1;
	}
	if (p.revents)
		return p.revents & (events | POLLERR | POLLHUP);
	int id = wait_fd(rt, fd, events, deadline);
	if (id < 0)
		return -1;
	uint32_t e = rt->fds[fd].events;
	return (id == ID_IN ? POLLIN : POLLOUT) | ((e & EPOLLERR) ? POLLERR : 0) |
	       ((e & EPOLLHUP) ? POLLHUP : 0);
}

/* Call op(fd, arg) until it does not fail with EAGAIN: while `bit` says
 * the kernel may be ready (or with deadline 0, which must try), call it;
 * when it finds otherwise, clear the bit and wait for the next report.
 * op's result, or -1 with errno. */
static ssize_t until_done(struct corun__rt *rt, int fd, uint8_t bit, int64_t deadline,
			  ssize_t (*op)(int fd, void *arg), void *arg)
{
	for (;;) {
		struct corun__fd *f = &rt->fds[fd]; /* the table may move in a wait */
		if ((f->flags & bit) || deadline == 0) {
			ssize_t r = op(fd, arg);
			if (r >= 0)
				return r;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			f->flags &= (uint8_t)~bit;
		}
		if (wait_fd(rt, fd, bit == CORUN__FD_IN ? POLLIN : POLLOUT, deadline) < 0)
			return -1;
	}
}

/* On a stream, a read or write that came back short emptied or filled the
 * buffer: the next one waits for the kernel's report. Not once the peer has
 * finished or the connection failed: no report follows that, and the next
 * call must meet it (0, or the error). */
static void came_short(struct corun__rt *rt, int fd, uint8_t bit)
{
	struct corun__fd *f = &rt->fds[fd];
	if ((f->flags & CORUN__FD_STREAM) && !(f->events & FINAL))
		f->flags &= (uint8_t)~bit;
}

struct io {
	void *buf;
	size_t n;
	int sock;
	struct sockaddr *addr;
	socklen_t *len;
};

static ssize_t do_read(int fd, void *arg)
{
	struct io *io = arg;
	return read(fd, io->buf, io->n);
}

static ssize_t do_write(int fd, void *arg)
{
	struct io *io = arg;
	return io->sock ? send(fd, io->buf, io->n, MSG_NOSIGNAL) : write(fd, io->buf, io->n);
}

static ssize_t do_accept(int fd, void *arg)
{
	struct io *io = arg;
	return accept4(fd, io->addr, io->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

ssize_t corun_read(int fd, void *buf, size_t n, int64_t deadline)
{
	struct corun__rt *rt;
	if (!begin(&rt, fd, deadline, 1))
		return -1;
	struct io io = { .buf = buf, .n = n };
	ssize_t r = until_done(rt, fd, CORUN__FD_IN, deadline, do_read, &io);
	if (r > 0 && (size_t)r < n)
		came_short(rt, fd, CORUN__FD_IN);
	return r;
}

ssize_t corun_write(int fd, const void *buf, size_t n, int64_t deadline)
{
	struct corun__rt *rt;
	struct corun__fd *f = begin(&rt, fd, deadline, 1);
	if (!f)
		return -1;
	struct io io = { .sock = (f->flags & CORUN__FD_SOCKET) != 0 };
	size_t done = 0;
	do {
		io.buf = (char *)buf + done;
		io.n = n - done;
		ssize_t r = until_done(rt, fd, CORUN__FD_OUT, deadline, do_write, &io);
		if (r < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)r;
		if (done < n)
			came_short(rt, fd, CORUN__FD_OUT);
	} while (done < n);
	return (ssize_t)n;
}

int corun_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline)
{
	struct corun__rt *rt;
	if (!begin(&rt, fd, deadline, 1))
		return -1;
	struct io io = { .addr = addr, .len = len };
	int c = (int)until_done(rt, fd, CORUN__FD_IN, deadline, do_accept, &io);
	if (c >= 0) {
		/* Non-blocking already, and of the listener's kind: nothing to
		 * ask the kernel. Without memory for its entry, it is prepared
		 * at first use instead. */
		uint8_t kind = rt->fds[fd].flags & (CORUN__FD_STREAM | CORUN__FD_SOCKET);
		struct corun__fd *cf = entry(rt, c);
		if (cf)
			renew(cf, (uint8_t)(CORUN__FD_PREPARED | kind));
	}
	return c;
}

int corun_connect(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline)
{
	struct corun__rt *rt;
	struct corun__fd *f = begin(&rt, fd, deadline, 0);
	if (!f)
		return -1;
	renew(f, 0); /* a socket being connected is a new one to us */
	if (prepare(fd, f) < 0)
		return -1;
	if (connect(fd, addr, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	f->flags &= (uint8_t)~CORUN__FD_OUT;
	if (wait_fd(rt, fd, POLLOUT, deadline) < 0)
		return -1;
	int err;
	socklen_t elen = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -1;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

int corun_close(int fd)
{
	struct corun__rt *rt = corun__tls;
	if (rt && fd >= 0 && (size_t)fd < rt->nfds) {
		/* close(2) takes it out of epoll (unless a duplicate keeps the
		 * file open: then its reports carry the old generation). */
		struct corun__fd *f = &rt->fds[fd];
		fire_slot(rt, &f->in, EBADF);
		fire_slot(rt, &f->out, EBADF);
		renew(f, 0);
	}
	return close(fd);
}
