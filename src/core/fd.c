/*
 * Descriptors: the calls that wait instead of failing with EAGAIN, the
 * runtime's epoll instance, and the collection of its reports (fd.h).
 */
#include "fd.h"
#include "wait.h"
#include "../failpoint.h"
#include "../io/uring.h"
#include "../io/uring_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Reported once and true for good: the peer finished (RDHUP), hung up,
 * or the connection failed. Later reports still carry them. */
#define FINAL (EPOLLRDHUP | EPOLLHUP | EPOLLERR)

/* Waiter ids: which direction fired. */
#define ID_IN 1
#define ID_OUT 2

/* ---- the table ---- */

/* A number with no page yet: make the page if the number is open (and the
 * directory large enough for it). NULL with EBADF for a number no file
 * has, which costs a system call and no memory, whatever its size; NULL
 * with ENOMEM. */
__attribute__((noinline, cold)) static struct corun__fd *fd_state_new(struct corun__rt *rt, int fd)
{
	if (fcntl(fd, F_GETFD) < 0)
		return NULL;
	size_t i = (unsigned)fd >> CORUN__FD_PAGE_SHIFT;
	if (i >= rt->fds.npages) {
		size_t n = rt->fds.npages ? rt->fds.npages : 8;
		while (n <= i)
			n *= 2;
		struct corun__fd **dir =
			corun__realloc(CORUN__FAIL_FDS, rt->fds.pages, n * sizeof *dir);
		if (!dir) {
			errno = ENOMEM;
			return NULL;
		}
		memset(dir + rt->fds.npages, 0, (n - rt->fds.npages) * sizeof *dir);
		rt->fds.pages = dir;
		rt->fds.npages = n;
	}
	struct corun__fd *page = corun__malloc(CORUN__FAIL_FDS, CORUN__FD_PAGE * sizeof *page);
	if (!page) {
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned k = 0; k < CORUN__FD_PAGE; k++)
		page[k] = (struct corun__fd){ .flags = CORUN__FD_IN | CORUN__FD_OUT };
	rt->fds.pages[i] = page;
	return &page[(unsigned)fd & (CORUN__FD_PAGE - 1)];
}

/* The state of fd, made if need be; NULL with errno (EBADF, ENOMEM). A new
 * entry may be tried in both directions: nothing is known yet. */
static struct corun__fd *fd_state(struct corun__rt *rt, int fd)
{
	struct corun__fd *f = corun__fd_find(&rt->fds, fd);
	return __builtin_expect(f != NULL, 1) ? f : fd_state_new(rt, fd);
}

void corun__fds_init(struct corun__fds *d)
{
	d->epfd = -1;
}

void corun__fds_fini(struct corun__fds *d)
{
	for (size_t i = 0; i < d->npages; i++)
		free(d->pages[i]);
	free(d->pages);
	d->pages = NULL;
	d->npages = 0;
	if (d->epfd >= 0)
		close(d->epfd);
	d->epfd = -1;
}

/* The number names a new file (accepted, connected, closed): forget the
 * old one. Its stale reports, if any, carry the old generation. */
static void renew(struct corun__fd *f, uint8_t flags)
{
	f->gen++;
	f->events = 0;
	f->flags = (uint8_t)(CORUN__FD_IN | CORUN__FD_OUT | flags);
}

/* Reads of a pipe go by preadv2 with RWF_NOWAIT, which cannot block
 * whatever the file's flags, and so need no fcntl first (settle, below).
 * A pipe that refuses it (EOPNOTSUPP: a kernel before 6.4, a named FIFO)
 * is read as other files are from then on; once preadv2 is unknown
 * (ENOSYS), every pipe is. */
static _Atomic int no_pipe_nowait;

/* Make fd non-blocking, and learn its kind: the flags to keep
 * (CORUN__FD_PREPARED and its kind) in *flags, its access mode in *mode. */
static int learn(int fd, uint8_t *flags, uint8_t *mode)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	uint8_t kind = CORUN__FD_PREPARED, how = (uint8_t)(fl & O_ACCMODE);
	if (S_ISFIFO(st.st_mode)) {
		kind |= CORUN__FD_STREAM;
		if (!atomic_load_explicit(&no_pipe_nowait, memory_order_relaxed))
			how |= CORUN__FD_NOWAIT;
	} else if (S_ISSOCK(st.st_mode)) {
		int type;
		socklen_t len = sizeof type;
		kind |= CORUN__FD_SOCKET;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM)
			kind |= CORUN__FD_STREAM;
	}
	*flags = kind;
	*mode = how;
	return 0;
}

/* Make fd non-blocking, and learn its kind, once. */
static int prepare(int fd, struct corun__fd *f)
{
	uint8_t kind;
	if (learn(fd, &kind, &f->mode) < 0)
		return -1;
	f->flags |= kind;
	return 0;
}

static int enroll(struct corun__rt *rt, int fd, struct corun__fd *f);
static inline int epoll_of(struct corun__rt *rt);

/* The number names another file than the one prepared (closed with
 * close(2) and reused): learn it anew, and register it at once if someone
 * waits on it. The generation stays: the waiters armed on the number wait
 * on whatever file it names. 0, or -1 with errno. */
static int relearn(struct corun__rt *rt, int fd, struct corun__fd *f)
{
	f->events = 0;
	f->flags = CORUN__FD_IN | CORUN__FD_OUT;
	if (prepare(fd, f) < 0)
		return -1;
	return (f->in || f->out) ? enroll(rt, fd, f) : 0;
}

/* Before a system call that could block on a file other than a socket (a
 * socket's calls carry MSG_DONTWAIT): is it still the non-blocking file
 * prepared? One fcntl; a file that is not non-blocking, or is open another
 * way (a pipe's end is read-only or write-only, a socket both), is learned
 * anew. 0 when unchanged, 1 when learned anew, -1 with errno. */
static int settle(struct corun__rt *rt, int fd, struct corun__fd *f)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -1;
	if ((fl & O_NONBLOCK) && (fl & O_ACCMODE) == (f->mode & O_ACCMODE))
		return 0;
	return relearn(rt, fd, f) < 0 ? -1 : 1;
}

/* What every call starts with: the runtime, the caller not canceled, the
 * budget spent (wait.h). The runtime's backend, or -1 with errno. */
static int start(struct corun__rt **rtp, int fd, int64_t deadline)
{
	if (fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (corun__deadline_check(deadline) < 0)
		return -1;
	struct corun__rt *rt = corun__rt_get_or_make();
	if (!rt || corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt)) { /* a system call's frame is there anyway */
		corun__budget_yield(rt);
		if (corun__may_block(rt) < 0)
			return -1;
	}
	*rtp = rt;
	return corun__io_backend(rt, &rt->fds);
}

/* Then, on epoll: fd's state (prepared if `ready` says so). NULL with
 * errno. */
static struct corun__fd *begin(struct corun__rt *rt, int fd, int ready)
{
	/* The epoll instance comes with the thread's first descriptor call,
	 * not its first wait: a server that runs out of descriptors before it
	 * ever had to wait still has it, and its waits still work. */
	if (rt->fds.epfd < 0 && epoll_of(rt) < 0)
		return NULL;
	struct corun__fd *f = fd_state(rt, fd);
	if (f && ready && !(f->flags & CORUN__FD_PREPARED) && prepare(fd, f) < 0)
		return NULL;
	return f;
}

struct corun__fd *corun__fd_get(struct corun__rt *rt, int fd, int prepared)
{
	struct corun__fd *f = fd_state(rt, fd);
	if (f && prepared && !(f->flags & CORUN__FD_PREPARED) && prepare(fd, f) < 0)
		return NULL;
	return f;
}

int corun__fd_relearn(struct corun__rt *rt, int fd, struct corun__fd *f)
{
	return relearn(rt, fd, f);
}

void corun__fd_renew(struct corun__fd *f, uint8_t flags)
{
	renew(f, flags);
}

/* ---- epoll ---- */

/* What a registration asks for, and the key its reports carry. */
#define EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

static uint64_t key(int fd, const struct corun__fd *f)
{
	return (uint64_t)(uint32_t)fd | (uint64_t)f->gen << 32;
}

static void fire_slot(struct corun__rt *rt, struct corun__waiter **slot, int err)
{
	struct corun__waiter *w = *slot;
	if (w) {
		*slot = NULL;
		rt->fds.waiting--;
		corun__fire(rt, w, err);
	}
}

/* Wake fd's waiters with err: none of them can be woken by the kernel.
 * How many there were. */
static int fail_waiters(struct corun__rt *rt, struct corun__fd *f, int err)
{
	int n = (f->in != NULL) + (f->out != NULL);
	fire_slot(rt, &f->in, err);
	fire_slot(rt, &f->out, err);
	return n;
}

/* Call fn on every entry of the table; the sum of what it returns. For the
 * walks below (a fork, the sweep), which are rare. */
static int walk(struct corun__rt *rt, int (*fn)(struct corun__rt *, int, struct corun__fd *, void *),
		void *ctx)
{
	int sum = 0;
	for (size_t i = 0; i < rt->fds.npages; i++) {
		struct corun__fd *page = rt->fds.pages[i];
		for (unsigned k = 0; page && k < CORUN__FD_PAGE; k++)
			sum += fn(rt, (int)(i << CORUN__FD_PAGE_SHIFT | k), &page[k], ctx);
	}
	return sum;
}

/* In a child of fork, the epoll instance just made: every registration
 * was made in the parent's. Forget them all, and register anew the
 * descriptors that coroutines (copies of the parent's) wait on, so that
 * they go on waiting in the child; or, if that fails, or no instance
 * could be made (ctx: its errno), wake them with the error. */
static int forget(struct corun__rt *rt, int fd, struct corun__fd *f, void *ctx)
{
	f->flags &= (uint8_t)~(CORUN__FD_EPOLL | CORUN__FD_CHECKED);
	if (!f->in && !f->out)
		return 0;
	if (ctx)
		return fail_waiters(rt, f, *(int *)ctx);
	return enroll(rt, fd, f) < 0 ? fail_waiters(rt, f, errno) : 0;
}

/* The runtime's epoll descriptor, made on first need; -1 with errno. */
static int epoll_make(struct corun__rt *rt)
{
	if (corun__fail(CORUN__FAIL_EPOLL))
		errno = ENOMEM;
	else
		rt->fds.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (rt->fds.forked) {
		int err = errno;
		rt->fds.forked = 0;
		walk(rt, forget, rt->fds.epfd < 0 ? &err : NULL);
		errno = err;
	}
	return rt->fds.epfd;
}

static inline int epoll_of(struct corun__rt *rt)
{
	return __builtin_expect(rt->fds.epfd >= 0, 1) ? rt->fds.epfd : epoll_make(rt);
}

void corun__fd_fork_child(struct corun__rt *rt)
{
	corun__uring_fork_child(rt);
	if (rt->fds.epfd >= 0) {
		close(rt->fds.epfd);
		rt->fds.epfd = -1;
		rt->fds.forked = 1;
	}
}

static int enroll(struct corun__rt *rt, int fd, struct corun__fd *f)
{
	int ep = epoll_of(rt);
	if (ep < 0)
		return -1;
	struct epoll_event ev = { .events = EVENTS, .data.u64 = key(fd, f) };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 &&
	    (errno != EEXIST || epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0))
		return -1;
	f->flags |= CORUN__FD_EPOLL;
	return 0;
}

int corun__fd_watch(struct corun__rt *rt, int fd, uint64_t key)
{
	if (corun__io_backend(rt, &rt->fds) == CORUN__IO_URING)
		return corun__uring_watch(rt, fd, key);
	int ep = epoll_of(rt);
	if (ep < 0)
		return -1;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = key };
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* One report: mark what is ready, and wake who waits for it. An error or a
 * hang-up makes both directions ready: the call then meets it. */
static int on_event(struct corun__rt *rt, const struct epoll_event *ev)
{
	if (__builtin_expect(ev->data.u64 == CORUN__REMOTE_KEY, 0)) {
		corun__remote_on_event(rt); /* what it brought: corun__idle */
		return 0;
	}
	uint32_t fd = (uint32_t)ev->data.u64, gen = (uint32_t)(ev->data.u64 >> 32);
	struct corun__fd *f = corun__fd_find(&rt->fds, (int)fd);
	if (!f || f->gen != gen || !(f->flags & CORUN__FD_EPOLL))
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

/* ---- registrations that may be gone (fd.h) ---- */

/* Is the number's registration still there? EPOLL_CTL_MOD finds it by the
 * file the number names now, so it fails with ENOENT when that is another
 * file (which is then learned and registered), EBADF when there is none,
 * EPERM for a file epoll cannot watch: its waiters then wake with that.
 * How many waiters it woke. */
static int check(struct corun__rt *rt, int fd, struct corun__fd *f)
{
	struct epoll_event ev = { .events = EVENTS, .data.u64 = key(fd, f) };
	if (epoll_ctl(rt->fds.epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ||
	    (errno == ENOENT && relearn(rt, fd, f) == 0)) {
		f->flags |= CORUN__FD_CHECKED;
		return 0;
	}
	return fail_waiters(rt, f, errno);
}

/* For the sweep: check a wait that has lasted since before the last sweep,
 * once per wait, and count in *ctx those too young yet. */
static int check_old(struct corun__rt *rt, int fd, struct corun__fd *f, void *ctx)
{
	if (!(f->in || f->out) || (f->flags & CORUN__FD_CHECKED))
		return 0;
	if (rt->fds.sweeps - f->since >= 2)
		return check(rt, fd, f);
	++*(size_t *)ctx;
	return 0;
}

/* How many waiters it woke. */
static int sweep(struct corun__rt *rt, int64_t now)
{
	size_t young = 0;
	rt->fds.sweeps++;
	rt->fds.sweep_at = now + CORUN__FD_SWEEP_NS;
	int fired = walk(rt, check_old, &young);
	rt->fds.fresh = young != 0;
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

int corun__poll(struct corun__rt *rt, int64_t timeout_ns)
{
	if (rt->fds.backend == CORUN__IO_URING)
		return corun__uring_poll(rt, timeout_ns);
	int ep = epoll_of(rt);
	if (ep < 0) { /* only deadlines can be pending: sleep to the nearest */
		if (timeout_ns > 0) {
			struct timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
			nanosleep(&ts, NULL);
		}
		return 0;
	}
	/* A wait not yet checked must not sleep through the sweep that will
	 * check it. Reckoned from the end of the last poll, which saves a
	 * clock read: a thread that waits on descriptors polls often. */
	if (rt->fds.fresh && timeout_ns != 0 && rt->fds.waiting) {
		int64_t until = rt->fds.sweep_at - (rt->fds.poll_next - 1);
		if (until < 0)
			until = 0;
		if (timeout_ns < 0 || timeout_ns > until)
			timeout_ns = until;
	}
	struct epoll_event evs[BATCH];
	int n = wait_events(ep, evs, BATCH, timeout_ns), fired = 0;
	for (int i = 0; i < n; i++)
		fired += on_event(rt, &evs[i]);
	/* Reports were just read: main's turns need not read them again
	 * before the next tick of the coarse clock. */
	int64_t now = corun__coarse_now();
	rt->fds.poll_next = now + 1;
	if (rt->fds.fresh && now >= rt->fds.sweep_at && rt->fds.waiting)
		fired += sweep(rt, now);
	return fired;
}

void corun__poll_due(struct corun__rt *rt)
{
	if (rt->fds.backend == CORUN__IO_URING)
		corun__uring_due(rt); /* once per pass: what is queued goes */
	else if (corun__coarse_now() >= rt->fds.poll_next)
		corun__poll(rt, 0);
}

/* ---- waiting ---- */

static void withdraw_fd(struct corun__rt *rt, struct corun__waiter *w)
{
	/* ptr is the number; its page is there for good. */
	struct corun__fd *f = corun__fd_find(&rt->fds, (int)(intptr_t)w->ptr);
	struct corun__waiter **slot = w->id == ID_IN ? &f->in : &f->out;
	if (*slot == w) {
		*slot = NULL;
		rt->fds.waiting--;
	}
}

/* Put w in fd's slot for one direction (`id`), registering fd first.
 * Inline in wait_fd, its one caller: as two calls, they kept every value
 * of wait_fd in callee-saved registers across them (bench/callgrind.sh,
 * sock-pingpong: 1602 instructions a round trip called, 1544 inline). */
static inline __attribute__((always_inline)) int
arm_fd(struct corun__rt *rt, int fd, struct corun__fd *f, struct corun__waiter *w, int id)
{
	struct corun__waiter **slot = id == ID_IN ? &f->in : &f->out;
	if (*slot) {
		errno = EBUSY;
		return -1;
	}
	if (!(f->flags & CORUN__FD_EPOLL) && enroll(rt, fd, f) < 0)
		return -1;
	if (!f->in && !f->out) { /* a wait begins: the sweeps will check it */
		f->since = rt->fds.sweeps;
		f->flags &= (uint8_t)~CORUN__FD_CHECKED;
		rt->fds.fresh = 1;
	}
	corun__arm(rt, w, id, withdraw_fd);
	w->ptr = (void *)(intptr_t)fd;
	*slot = w;
	rt->fds.waiting++;
	/* Main, waiting aside in corun__drive, must take turns in the ring
	 * now, so that busy coroutines cannot keep reports from being read. */
	if (rt->main.state == CORUN__BLOCKED && rt->current != &rt->main)
		corun__make_ready(&rt->sched, &rt->main);
	return 0;
}

/* Wait until the kernel reports fd ready for reading, writing or either
 * (`reason`: CORUN__WAIT_FD_READ, _WRITE, _EITHER), or the deadline. The id
 * of what fired (ID_IN, ID_OUT), or -1 with errno. The caller has found it
 * must wait. */
static int wait_fd(struct corun__rt *rt, int fd, struct corun__fd *f,
		   enum corun__wait_reason reason, int64_t deadline)
{
	/* Again, not only in begin: a call waits more than once, and a cancel
	 * may come between a wake and the next wait. */
	if (corun__may_block(rt) < 0 || corun__may_wait(rt, deadline) < 0)
		return -1;
	struct corun__timer t;
	struct corun__waiter in, out;
	if (corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0)
		return -1;
	if ((reason != CORUN__WAIT_FD_WRITE && arm_fd(rt, fd, f, &in, ID_IN) < 0) ||
	    (reason != CORUN__WAIT_FD_READ && arm_fd(rt, fd, f, &out, ID_OUT) < 0)) {
		int saved = errno; /* take back what was armed */
		corun__disarm(rt);
		errno = saved;
		return -1;
	}
	uint32_t gen = f->gen;
	int err, id = corun__wait(rt, reason, (uint64_t)fd, &err);
	if (id < 0 || err) {
		errno = err;
		return -1;
	}
	/* Fired, and then closed by another before we ran: the number may
	 * name another file by now. */
	if (f->gen != gen) {
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
	int b = start(&rt, fd, deadline);
	if (b == CORUN__IO_URING)
		return corun__uring_wait_fd(rt, fd, events, deadline);
	struct corun__fd *f = b < 0 ? NULL : begin(rt, fd, 0);
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
	int id = wait_fd(rt, fd, f,
			 events == POLLIN    ? CORUN__WAIT_FD_READ
			 : events == POLLOUT ? CORUN__WAIT_FD_WRITE
					     : CORUN__WAIT_FD_EITHER,
			 deadline);
	if (id < 0)
		return -1;
	uint32_t e = f->events;
	return (id == ID_IN ? POLLIN : POLLOUT) | ((e & EPOLLERR) ? POLLERR : 0) |
	       ((e & EPOLLHUP) ? POLLHUP : 0);
}

/* A system call on fd, made by until_done: its result, -1 with errno, or
 * AGAIN when fd was learned anew and the call is to be made again. */
#define AGAIN (-2)
typedef ssize_t (*op_fn)(struct corun__rt *rt, int fd, struct corun__fd *f, void *arg);

/* Call op until it does not fail with EAGAIN: while `bit` says the kernel
 * may be ready (or with deadline 0, which must try), call it; when it
 * finds otherwise, clear the bit and wait for the next report. op's
 * result, or -1 with errno. */
static ssize_t until_done(struct corun__rt *rt, int fd, struct corun__fd *f, uint8_t bit,
			  int64_t deadline, op_fn op, void *arg)
{
	for (;;) {
		if ((f->flags & bit) || deadline == 0) {
			ssize_t r = op(rt, fd, f, arg);
			if (r >= 0)
				return r;
			if (r == AGAIN || errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			f->flags &= (uint8_t)~bit;
		}
		if (wait_fd(rt, fd, f, bit == CORUN__FD_IN ? CORUN__WAIT_FD_READ : CORUN__WAIT_FD_WRITE,
			    deadline) < 0)
			return -1;
	}
}

/* On a stream, a read or write that came back short emptied or filled the
 * buffer: the next one waits for the kernel's report. Not once the peer has
 * finished or the connection failed: no report follows that, and the next
 * call must meet it (0, or the error). */
static void came_short(struct corun__fd *f, uint8_t bit)
{
	if ((f->flags & CORUN__FD_STREAM) && !(f->events & FINAL))
		f->flags &= (uint8_t)~bit;
}

/* A socket's call failed with ENOTSOCK: the number names another file now.
 * AGAIN once it is learned, or -1 with errno. */
static ssize_t not_a_socket(struct corun__rt *rt, int fd, struct corun__fd *f)
{
	if (relearn(rt, fd, f) < 0)
		return -1;
	if (f->flags & CORUN__FD_SOCKET) { /* it is one after all */
		errno = ENOTSOCK;
		return -1;
	}
	return AGAIN;
}

struct io {
	void *buf;
	size_t n;
	struct sockaddr *addr;
	socklen_t *len;
};

/* preadv2 with RWF_NOWAIT was refused: the number names another file, or
 * this pipe cannot be read so. AGAIN once it is learned, or -1. */
static ssize_t nowait_refused(struct corun__rt *rt, int fd, struct corun__fd *f)
{
	if (errno == ENOSYS)
		atomic_store_explicit(&no_pipe_nowait, 1, memory_order_relaxed);
	if (relearn(rt, fd, f) < 0)
		return -1;
	f->mode &= (uint8_t)~CORUN__FD_NOWAIT;
	return AGAIN;
}

static ssize_t do_read(struct corun__rt *rt, int fd, struct corun__fd *f, void *arg)
{
	struct io *io = arg;
	if (f->flags & CORUN__FD_SOCKET) {
		ssize_t r = recv(fd, io->buf, io->n, MSG_DONTWAIT);
		return r < 0 && errno == ENOTSOCK ? not_a_socket(rt, fd, f) : r;
	}
	if (f->mode & CORUN__FD_NOWAIT) {
		struct iovec v = { io->buf, io->n };
		ssize_t r = preadv2(fd, &v, 1, -1, RWF_NOWAIT);
		return r < 0 && (errno == EOPNOTSUPP || errno == ENOSYS) ? nowait_refused(rt, fd, f)
									 : r;
	}
	int s = settle(rt, fd, f);
	return s < 0 ? -1 : s > 0 ? AGAIN : read(fd, io->buf, io->n);
}

static ssize_t do_write(struct corun__rt *rt, int fd, struct corun__fd *f, void *arg)
{
	struct io *io = arg;
	if (f->flags & CORUN__FD_SOCKET) {
		ssize_t r = send(fd, io->buf, io->n, MSG_NOSIGNAL | MSG_DONTWAIT);
		return r < 0 && errno == ENOTSOCK ? not_a_socket(rt, fd, f) : r;
	}
	int s = settle(rt, fd, f);
	return s < 0 ? -1 : s > 0 ? AGAIN : write(fd, io->buf, io->n);
}

/* accept4 has no flag that keeps it from blocking: the listener must be
 * non-blocking, which settle asks the kernel every time. */
static ssize_t do_accept(struct corun__rt *rt, int fd, struct corun__fd *f, void *arg)
{
	struct io *io = arg;
	int s = settle(rt, fd, f);
	return s < 0 ? -1 : s > 0 ? AGAIN : accept4(fd, io->addr, io->len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

ssize_t corun_read(int fd, void *buf, size_t n, int64_t deadline)
{
	struct corun__rt *rt;
	int b = start(&rt, fd, deadline);
	if (b == CORUN__IO_URING)
		return corun__uring_read(rt, fd, buf, n, deadline);
	struct corun__fd *f = b < 0 ? NULL : begin(rt, fd, 1);
	if (!f)
		return -1;
	struct io io = { .buf = buf, .n = n };
	ssize_t r = until_done(rt, fd, f, CORUN__FD_IN, deadline, do_read, &io);
	if (r > 0 && (size_t)r < n)
		came_short(f, CORUN__FD_IN);
	return r;
}

ssize_t corun_write(int fd, const void *buf, size_t n, int64_t deadline)
{
	struct corun__rt *rt;
	int b = start(&rt, fd, deadline);
	if (b == CORUN__IO_URING)
		return corun__uring_write(rt, fd, buf, n, deadline);
	struct corun__fd *f = b < 0 ? NULL : begin(rt, fd, 1);
	if (!f)
		return -1;
	struct io io;
	size_t done = 0;
	do {
		io.buf = (char *)buf + done;
		io.n = n - done;
		ssize_t r = until_done(rt, fd, f, CORUN__FD_OUT, deadline, do_write, &io);
		if (r < 0)
			return done ? (ssize_t)done : -1;
		done += (size_t)r;
		if (done < n)
			came_short(f, CORUN__FD_OUT);
	} while (done < n);
	return (ssize_t)n;
}

int corun_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline)
{
	struct corun__rt *rt;
	int b = start(&rt, fd, deadline);
	if (b == CORUN__IO_URING)
		return corun__uring_accept(rt, fd, addr, len, deadline);
	struct corun__fd *f = b < 0 ? NULL : begin(rt, fd, 1);
	if (!f)
		return -1;
	struct io io = { .addr = addr, .len = len };
	int c = (int)until_done(rt, fd, f, CORUN__FD_IN, deadline, do_accept, &io);
	if (c >= 0) {
		/* Non-blocking already, and of the listener's kind: nothing to
		 * ask the kernel. Without memory for its entry, it is prepared
		 * at first use instead. */
		uint8_t kind = f->flags & (CORUN__FD_STREAM | CORUN__FD_SOCKET);
		struct corun__fd *cf = fd_state(rt, c);
		if (cf) {
			renew(cf, (uint8_t)(CORUN__FD_PREPARED | kind));
			cf->mode = O_RDWR;
		}
	}
	return c;
}

int corun_connect(int fd, const struct sockaddr *addr, socklen_t len, int64_t deadline)
{
	struct corun__rt *rt;
	int b = start(&rt, fd, deadline);
	if (b == CORUN__IO_URING)
		return corun__uring_connect(rt, fd, addr, len, deadline);
	struct corun__fd *f = b < 0 ? NULL : begin(rt, fd, 0);
	if (!f)
		return -1;
	uint8_t kind, mode;
	if (learn(fd, &kind, &mode) < 0)
		return -1;
	int r = connect(fd, addr, len);
	if (r < 0 && errno != EINPROGRESS)
		return -1; /* EISCONN for a socket connected already */
	/* A socket being connected is a new one to us. */
	renew(f, kind);
	f->mode = mode;
	if (r == 0)
		return 0;
	f->flags &= (uint8_t)~CORUN__FD_OUT;
	for (;;) {
		if (wait_fd(rt, fd, f, CORUN__WAIT_FD_WRITE, deadline) < 0)
			return -1;
		/* connect(2) again says how it went, as a blocking one would
		 * have: 0 (and from now on EISCONN), the connection's error, or
		 * EALREADY while it is still under way. */
		if (connect(fd, addr, len) == 0 || errno == EISCONN)
			return 0;
		if (errno != EALREADY)
			return -1;
		f->flags &= (uint8_t)~CORUN__FD_OUT;
	}
}

int corun_close(int fd)
{
	struct corun__rt *rt = corun__tls;
	struct corun__fd *f = rt && fd >= 0 ? corun__fd_find(&rt->fds, fd) : NULL;
	if (f && rt->fds.backend == CORUN__IO_URING) {
		/* Operations in flight hold the file: they must be cancelled,
		 * and end with EBADF (or what they did before). */
		corun__uring_close(rt, f);
		renew(f, 0);
	} else if (f) {
		/* close(2) takes it out of epoll (unless a duplicate keeps the
		 * file open: then its reports carry the old generation). */
		fail_waiters(rt, f, EBADF);
		renew(f, 0);
	}
	return close(fd);
}
