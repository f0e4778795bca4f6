/*
 * The io_uring backend: the ring, the operations' lifetime, and the
 * scheduler's hooks (uring.h). Which backend a runtime uses is decided
 * here too, on its first call that needs one.
 */
#include "uring.h"
#include "../core/runtime.h"
#include "../core/wait.h"
#include "../failpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CORUN_IO, read once per process: 0 (unset: io_uring where allowed),
 * CORUN__IO_EPOLL or CORUN__IO_URING. */
static int io_wanted(void)
{
	static _Atomic int wanted = -1;
	int w = atomic_load_explicit(&wanted, memory_order_relaxed);
	if (w < 0) {
		const char *e = getenv("CORUN_IO");
		w = e && strcmp(e, "epoll") == 0 ? CORUN__IO_EPOLL
		    : e && strcmp(e, "io_uring") == 0 ? CORUN__IO_URING
						       : 0;
		atomic_store_explicit(&wanted, w, memory_order_relaxed);
	}
	return w;
}

#ifndef CORUN__HAVE_URING

void corun__uring_init(struct corun__uring *u)
{
	u->ready = 0;
}

void corun__uring_fini(struct corun__rt *rt)
{
	(void)rt;
}

int corun__io_backend_slow(struct corun__rt *rt)
{
	(void)io_wanted;
	rt->stats.io_backend = CORUN__IO_EPOLL;
	return rt->fds.backend = CORUN__IO_EPOLL;
}

/* Never called: the backend is never io_uring in this build. */
int corun__uring_poll(struct corun__rt *rt, int64_t timeout_ns)
{
	(void)rt, (void)timeout_ns;
	return 0;
}

void corun__uring_due(struct corun__rt *rt)
{
	(void)rt;
}

int corun__uring_watch(struct corun__rt *rt, int fd, uint64_t key)
{
	(void)rt, (void)fd, (void)key;
	errno = ENOSYS;
	return -1;
}

void corun__uring_fork_child(struct corun__rt *rt)
{
	(void)rt;
}

#else

/* Entries of the submission queue: a pass over coroutines that each start
 * an operation queues one per coroutine, and a full queue is flushed in
 * the middle of a pass (one more enter). The completion queue is four
 * times as large, so that a burst of completions rarely overflows it
 * (the kernel then keeps them aside, IORING_FEAT_NODROP, which costs it
 * more). */
#define SQ_ENTRIES 1024
#define CQ_ENTRIES (4 * SQ_ENTRIES)

/* Whether the kernel has every operation corun uses, asked once per
 * process: 1 yes, 0 no, -1 not asked yet. */
static _Atomic int ops_ok = -1;

static int probe_ops(struct io_uring *ring)
{
	static const int needed[] = {
		IORING_OP_READ,    IORING_OP_WRITE,   IORING_OP_RECV,    IORING_OP_SEND,
		IORING_OP_ACCEPT,  IORING_OP_CONNECT, IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL,
		IORING_OP_FSYNC,   IORING_OP_OPENAT,
	};
	int ok = atomic_load_explicit(&ops_ok, memory_order_relaxed);
	if (ok >= 0)
		return ok;
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	ok = p != NULL;
	for (size_t i = 0; ok && i < sizeof needed / sizeof needed[0]; i++)
		ok = io_uring_opcode_supported(p, needed[i]);
	if (p)
		io_uring_free_probe(p);
	atomic_store_explicit(&ops_ok, ok, memory_order_relaxed);
	return ok;
}

/* Make the ring: 0, or -1 (the runtime then uses epoll). Refused by an old
 * kernel (ENOSYS), a seccomp filter (EPERM), the io_uring_disabled sysctl
 * (EPERM), the locked-memory limit of kernels before 5.12 (ENOMEM); not
 * wanted without the features relied on: a timeout given to the enter
 * itself (EXT_ARG, 5.11), no completion dropped (NODROP), and a poll armed
 * by the kernel for a socket that is not ready (FAST_POLL), and a multishot
 * poll (5.13). */
static int ring_make(struct corun__rt *rt)
{
	struct corun__uring *u = &rt->uring;
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = CQ_ENTRIES;
	if (corun__fail(CORUN__FAIL_URING))
		return -1;
	if (io_uring_queue_init_params(SQ_ENTRIES, &u->ring, &p) < 0)
		return -1;
	/* RSRC_TAGS came with 5.13, as did the multishot poll the remote
	 * wake relies on, for which there is no flag. */
	const unsigned need = IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP | IORING_FEAT_FAST_POLL |
			      IORING_FEAT_RSRC_TAGS;
	if ((p.features & need) != need || !probe_ops(&u->ring)) {
		io_uring_queue_exit(&u->ring);
		return -1;
	}
	u->ready = 1;
	return 0;
}

int corun__io_backend_slow(struct corun__rt *rt)
{
	int saved = errno;
	int b = CORUN__IO_EPOLL;
	if (io_wanted() != CORUN__IO_EPOLL && ring_make(rt) == 0)
		b = CORUN__IO_URING;
	errno = saved;
	rt->stats.io_backend = (uint8_t)b;
	return rt->fds.backend = (uint8_t)b;
}

void corun__uring_init(struct corun__uring *u)
{
	memset(u, 0, sizeof *u);
	u->watch_fd = -1;
}

/* ---- operations ---- */

static void inflight_add(struct corun__uring *u, struct corun__uop *op)
{
	op->prev = NULL;
	op->next = u->inflight;
	if (u->inflight)
		u->inflight->prev = op;
	u->inflight = op;
}

static void inflight_del(struct corun__uring *u, struct corun__uop *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else
		u->inflight = op->next;
	if (op->next)
		op->next->prev = op->prev;
}

/* Hand what is queued to the kernel, and wait for `wait` completions at
 * most until ts (NULL: no limit). The kernel's answer (< 0: -errno). */
static int enter(struct corun__rt *rt, unsigned wait, struct __kernel_timespec *ts)
{
	struct corun__uring *u = &rt->uring;
	struct io_uring_cqe *cqe;
	rt->stats.io_enters++;
	u->queued = 0;
	if (ts)
		return io_uring_submit_and_wait_timeout(&u->ring, &cqe, wait, ts, NULL);
	return wait ? io_uring_submit_and_wait(&u->ring, wait) : io_uring_submit(&u->ring);
}

static int reap(struct corun__rt *rt);

struct io_uring_sqe *corun__uring_sqe(struct corun__rt *rt)
{
	struct corun__uring *u = &rt->uring;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	/* Full: flush it. The kernel may refuse new submissions while
	 * completions it keeps aside wait for room (EBUSY): collect those
	 * first, then try again. */
	for (int tries = 0; !sqe && tries < 4; tries++) {
		reap(rt);
		int r = enter(rt, 0, NULL);
		if (r < 0 && r != -EBUSY && r != -EAGAIN && r != -EINTR) {
			errno = -r;
			return NULL;
		}
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (!sqe)
		errno = EAGAIN;
	else
		u->queued++;
	return sqe;
}

static void uop_withdraw(struct corun__rt *rt, struct corun__waiter *w)
{
	(void)rt;
	((struct corun__uop *)w)->armed = 0; /* the operation stays in flight */
}

void corun__uop_start(struct corun__rt *rt, struct corun__uop *op, struct io_uring_sqe *sqe)
{
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)op);
	memcpy(op->sqe, sqe, sizeof op->sqe);
	op->fd = sqe->fd;
	op->since = rt->uring.sweeps;
	op->done = 0;
	op->checked = 0;
	op->armed = 0; /* by corun__uop_wait */
	op->closed = 0;
	op->cancelling = 0;
	op->w.co = rt->current;
	for (int i = 0; i < 2; i++)
		if (op->slot[i])
			*op->slot[i] = &op->w;
	inflight_add(&rt->uring, op);
	rt->fds.waiting++;
	/* Main, waiting aside in corun__drive, takes turns in the ring now:
	 * its turn is when the queue goes to the kernel (corun__uring_due). */
	if (rt->main.state == CORUN__BLOCKED && rt->current != &rt->main)
		corun__make_ready(&rt->sched, &rt->main);
}

/* A completion: the operation is done; fire its waiter if it still waits. */
static int complete(struct corun__rt *rt, struct corun__uop *op, int32_t res)
{
	op->res = res;
	op->done = 1;
	for (int i = 0; i < 2; i++)
		if (op->slot[i] && *op->slot[i] == &op->w)
			*op->slot[i] = NULL;
	inflight_del(&rt->uring, op);
	rt->fds.waiting--;
	if (!op->armed)
		return 0;
	op->armed = 0;
	corun__fire(rt, &op->w, 0);
	return 1;
}

/* Ask the kernel to cancel op; its completion comes all the same (with
 * -ECANCELED, or its result if it finished first). */
static void cancel(struct corun__rt *rt, struct corun__uop *op)
{
	struct io_uring_sqe *sqe = corun__uring_sqe(rt);
	if (!sqe)
		return; /* it completes on its own, or at the next try below */
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
	io_uring_sqe_set_data64(sqe, 0);
}

void corun__uop_cancel(struct corun__rt *rt, struct corun__uop *op)
{
	op->closed = 1;
	for (int i = 0; i < 2; i++)
		if (op->slot[i] && *op->slot[i] == &op->w)
			*op->slot[i] = NULL;
	cancel(rt, op);
}

/* Its result, once done: a cancel by corun_close reads as EBADF. A
 * worker the cancel interrupted (a blocking openat) may complete with the
 * kernel's own restart codes (ERESTARTSYS and its kin, 512 to 516), which
 * no caller should see: EINTR. */
static int32_t result(const struct corun__uop *op)
{
	if (op->res <= -512 && op->res >= -516)
		return -EINTR;
	return op->res == -ECANCELED && op->closed ? -EBADF : op->res;
}

int32_t corun__uop_wait(struct corun__rt *rt, struct corun__uop *op, int reason, uint64_t obj,
			int64_t deadline)
{
	int err = ETIMEDOUT;
	if (deadline == 0) {
		/* One go: hand it to the kernel now, which completes it at once
		 * if it can (a socket's data there, a file's in the cache). */
		corun__uring_due(rt);
		if (op->done)
			return result(op);
	} else {
		op->armed = 1;
		corun__arm(rt, &op->w, 1, uop_withdraw);
		int id = corun__wait(rt, (enum corun__wait_reason)reason, obj, &err);
		if (op->done && id >= 0 && !err)
			return result(op);
	}
	/* The deadline or a cancel came first (or EDEADLK from main). The
	 * kernel still has the operation and its buffer: cancel it, and wait
	 * for its completion, whatever else comes. */
	int why = err ? err : ECANCELED;
	op->cancelling = 1;
	while (!op->done) {
		cancel(rt, op); /* may collect its completion, for a full queue */
		if (op->done)
			break;
		op->armed = 1;
		corun__arm(rt, &op->w, 1, uop_withdraw);
		(void)corun__wait(rt, (enum corun__wait_reason)reason, obj, &err);
	}
	/* What it did before the cancel reached it (bytes that came, a
	 * connection accepted) is the caller's: lost otherwise. */
	int32_t r = result(op);
	if (r >= 0 || (r != -ECANCELED && r != -EINTR && r != -EBADF))
		return r;
	return op->closed ? -EBADF : -why;
}

/* ---- completions ---- */

/* Collect every completion the ring holds. How many waiters it fired. */
static int reap(struct corun__rt *rt)
{
	struct corun__uring *u = &rt->uring;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	int fired = 0;
	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		n++;
		uint64_t data = io_uring_cqe_get_data64(cqe);
		if (data == CORUN__REMOTE_KEY) {
			/* The remote wake's poll: what it brought is read by
			 * corun__idle. A poll the kernel ended (no MORE flag)
			 * is armed again at the next wait. */
			if (!(cqe->flags & IORING_CQE_F_MORE))
				u->watching = 0;
			if (cqe->res > 0) {
				corun__remote_on_event(rt);
				u->woken = 1;
			}
		} else if (data) {
			fired += complete(rt, (struct corun__uop *)(uintptr_t)data, cqe->res);
		}
	}
	io_uring_cq_advance(&u->ring, n);
	return fired;
}

static int arm_watch(struct corun__rt *rt)
{
	struct corun__uring *u = &rt->uring;
	struct io_uring_sqe *sqe = corun__uring_sqe(rt);
	if (!sqe)
		return -1;
	io_uring_prep_poll_multishot(sqe, u->watch_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, CORUN__REMOTE_KEY);
	u->watching = 1;
	return 0;
}

int corun__uring_watch(struct corun__rt *rt, int fd, uint64_t key)
{
	(void)key; /* one descriptor is watched: the remote wake's */
	rt->uring.watch_fd = fd;
	return arm_watch(rt);
}

/* A descriptor closed with close(2) while an operation waits on it stays
 * open in the kernel for the operation's sake, which may then wait for
 * good (a pipe's read whose writer is still open). So, as the epoll
 * backend checks its registrations (fd.h), every CORUN__FD_SWEEP_NS an
 * operation on a descriptor (one in a slot) that has waited a whole
 * period asks whether its number is still open (fcntl): one that is not
 * is cancelled, and its call fails with EBADF, as corun_close would have
 * made it. A number closed and at once reused by another file is not
 * seen: the operation goes on waiting on the old file. */
static void sweep(struct corun__rt *rt, int64_t now)
{
	struct corun__uring *u = &rt->uring;
	u->sweeps++;
	u->sweep_at = now + CORUN__FD_SWEEP_NS;
	for (struct corun__uop *op = u->inflight; op; op = op->next)
		if ((op->slot[0] || op->slot[1]) && !op->closed && !op->cancelling && !op->checked &&
		    u->sweeps - op->since >= 2) {
			op->checked = 1; /* once per operation */
			if (fcntl(op->fd, F_GETFD) < 0 && errno == EBADF)
				corun__uop_cancel(rt, op);
		}
}

int corun__uring_poll(struct corun__rt *rt, int64_t timeout_ns)
{
	struct corun__uring *u = &rt->uring;
	if (u->inflight) {
		int64_t now = corun__coarse_now();
		if (now >= u->sweep_at) {
			if (u->sweep_at)
				sweep(rt, now);
			else
				u->sweep_at = now + CORUN__FD_SWEEP_NS;
		}
		int64_t until = u->sweep_at - now;
		if (timeout_ns < 0 || timeout_ns > until)
			timeout_ns = until < 0 ? 0 : until;
	}
	if (u->watch_fd >= 0 && !u->watching)
		(void)arm_watch(rt);
	/* A wake collected here (by the reap below, or by one on main's
	 * turn since the last sleep) read the eventfd: what it announced is
	 * in the inbox, which corun__idle drains on return. Sleeping now
	 * would sleep through it. */
	u->woken = 0;
	int fired = reap(rt);
	if (fired || u->woken || timeout_ns == 0) {
		if (u->queued)
			enter(rt, 0, NULL);
		return fired + reap(rt);
	}
	if (timeout_ns < 0) {
		enter(rt, 1, NULL);
	} else {
		struct __kernel_timespec ts = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
		enter(rt, 1, &ts);
	}
	return reap(rt);
}

void corun__uring_due(struct corun__rt *rt)
{
	if (rt->uring.queued)
		enter(rt, 0, NULL);
	reap(rt);
}

/* ---- the runtime's end, fork ---- */

void corun__uring_fini(struct corun__rt *rt)
{
	struct corun__uring *u = &rt->uring;
	if (!u->ready)
		return;
	/* Operations of coroutines that never ran again write to their
	 * stacks, which go next: cancel them all and wait for them (a file's
	 * read that has started cannot be stopped, hence no limit). */
	for (struct corun__uop *op = u->inflight; op; op = op->next)
		cancel(rt, op);
	if (u->watching) {
		struct io_uring_sqe *sqe = corun__uring_sqe(rt);
		if (sqe) {
			io_uring_prep_cancel64(sqe, CORUN__REMOTE_KEY, 0);
			io_uring_sqe_set_data64(sqe, 0);
		}
	}
	while (u->inflight) {
		int r = enter(rt, 1, NULL);
		reap(rt);
		if (r < 0 && r != -EINTR && r != -EBUSY)
			break;
	}
	io_uring_queue_exit(&u->ring);
	u->ready = 0;
}

void corun__uring_fork_child(struct corun__rt *rt)
{
	struct corun__uring *u = &rt->uring;
	if (!u->ready)
		return;
	/* The ring's memory is shared with the parent: do not touch it. */
	close(u->ring.ring_fd);
	struct corun__uop *ops = u->inflight;
	int watch = u->watch_fd;
	memset(&u->ring, 0, sizeof u->ring);
	u->ready = 0;
	u->watching = 0;
	u->queued = 0;
	u->inflight = NULL;
	u->watch_fd = -1;
	(void)watch; /* the remote wake's descriptor is remote.c's, and gone */
	if (ring_make(rt) < 0) {
		/* No ring: wake everyone with the error; the runtime goes on on
		 * this backend, whose calls fail from now on with EAGAIN. */
		while (ops) {
			struct corun__uop *next = ops->next;
			rt->fds.waiting--;
			ops->done = 1;
			ops->res = -EAGAIN;
			if (ops->armed) {
				ops->armed = 0;
				corun__fire(rt, &ops->w, 0);
			}
			ops = next;
		}
		return;
	}
	while (ops) {
		struct corun__uop *next = ops->next;
		rt->fds.waiting--; /* counted again below, or done */
		if (ops->cancelling || ops->closed || !ops->armed) { /* cancelled: it is */
			ops->done = 1;
			ops->res = -ECANCELED;
			if (ops->armed) {
				ops->armed = 0;
				corun__fire(rt, &ops->w, 0);
			}
		} else {
			struct io_uring_sqe *sqe = corun__uring_sqe(rt);
			if (sqe) {
				memcpy(sqe, ops->sqe, sizeof *sqe);
				inflight_add(u, ops);
				rt->fds.waiting++;
			} else {
				ops->done = 1;
				ops->res = -EAGAIN;
				ops->armed = 0;
				corun__fire(rt, &ops->w, 0);
			}
		}
		ops = next;
	}
}

#endif
