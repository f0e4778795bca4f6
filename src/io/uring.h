/*
 * The io_uring backend (uring.c): one ring per runtime, through which the
 * descriptor calls (fd.c) and the file calls (file.c) run as operations
 * when the runtime's backend is io_uring (corun.h, "The I/O backend").
 *
 * An operation is a record on its caller's stack (struct corun__uop): its
 * submission carries the record's address, and its completion fires the
 * waiter in it. The waiter may be gone by then: a deadline or a cancel
 * fired first. The operation is still the kernel's, and so is the buffer
 * it was given, which lives on that same stack; so the caller asks the
 * kernel to cancel it and waits, whatever else happens, until its
 * completion has come (corun__uop_wait). Only then does the call return,
 * and the record, and the buffer, go.
 *
 * Submissions are not made one by one. Each is queued in the ring's
 * submission queue, which goes to the kernel in one io_uring_enter when
 * the thread would sleep (corun__uring_poll, which waits in the same
 * call), or on main's turn in the scheduler's ring (corun__uring_due),
 * that is once per pass over the coroutines that are ready. Completions
 * are read from the completion queue in memory: collecting them costs no
 * system call when there is nothing to submit.
 *
 * Operations in flight are counted in the runtime's fds.waiting, as epoll
 * waits are, so the scheduler polls while they are pending and never
 * reports a deadlock while one may still complete.
 */
#ifndef CORUN_IO_URING_H
#define CORUN_IO_URING_H

#include "../core/waiter.h"

#include <stddef.h>
#include <stdint.h>

struct corun__rt;
struct io_uring_sqe;

/* corun__fds.backend */
#define CORUN__IO_UNKNOWN 0
#define CORUN__IO_EPOLL 1 /* CORUN_IO_EPOLL */
#define CORUN__IO_URING 2 /* CORUN_IO_URING */

struct corun__uop {
	struct corun__waiter w;         /* fired by the completion */
	struct corun__uop *prev, *next; /* in the runtime's list in flight */
	int32_t res;                    /* the completion's result */
	int fd;                         /* its descriptor (for the sweep) */
	uint32_t since;                 /* corun__uring.sweeps at its start */
	uint8_t done;                   /* the completion has come */
	uint8_t armed;                  /* w is armed: fire it on completion */
	uint8_t closed;                 /* cancelled by corun_close */
	uint8_t cancelling;             /* its caller cancels it and waits */
	uint8_t checked;                /* the sweep has looked at it */
	/* Where a descriptor's state points at it (fd.h: its waiter for input
	 * and for output), cleared on completion; NULL for none. */
	struct corun__waiter **slot[2];
	/* The submission as prepared, for a child of fork, which submits
	 * anew, on a ring of its own, what its coroutines still wait for. */
	unsigned char sqe[64];
};

#ifdef CORUN__HAVE_URING
#include <liburing.h>

struct corun__uring {
	struct io_uring ring;
	uint8_t ready;     /* the ring is made */
	uint8_t watching;  /* the remote wake's poll is armed */
	uint8_t woken;     /* a remote wake was collected */
	uint32_t queued;   /* submissions queued since the last enter */
	int watch_fd;      /* the remote wake's eventfd, -1 for none */
	struct corun__uop *inflight; /* operations the kernel holds */
	uint32_t sweeps;   /* sweeps made (uring.c) */
	int64_t sweep_at;  /* coarse ns: the next */
};
#else
struct corun__uring {
	uint8_t ready;
};
#endif

void corun__uring_init(struct corun__uring *u);
/* Cancel what is in flight, wait for it, and release the ring: before the
 * stacks go, since operations in flight write to them. */
void corun__uring_fini(struct corun__rt *rt);

/* Which backend the runtime uses, deciding (and making the ring) on the
 * first call: CORUN__IO_EPOLL or CORUN__IO_URING. Never fails: a ring
 * that cannot be made means epoll. */
int corun__io_backend_slow(struct corun__rt *rt);

/* A submission queue entry for an operation, the queue flushed first if it
 * is full; NULL with errno when the kernel takes none (EAGAIN...). */
struct io_uring_sqe *corun__uring_sqe(struct corun__rt *rt);

/* Arm op for the running coroutine (or main) and put it in flight: sqe
 * (from corun__uring_sqe) is prepared, and gets op as its user data.
 * op->slot[] must be set. */
void corun__uop_start(struct corun__rt *rt, struct corun__uop *op, struct io_uring_sqe *sqe);

/* The whole wait of an operation started with corun__uop_start, after the
 * deadline was armed (deadline 0: none armed, and the operation gets one
 * go: the queue is flushed at once): wait for the completion, the
 * deadline or a cancel; when one of those comes first, cancel the
 * operation and wait for its completion regardless. Returns the
 * operation's result when it completed (a negative errno as the kernel
 * gave it; -EBADF for one cancelled by corun_close), or -ETIMEDOUT,
 * -ECANCELED when the operation was cancelled before it did anything. */
int32_t corun__uop_wait(struct corun__rt *rt, struct corun__uop *op, int reason, uint64_t obj,
			int64_t deadline);

/* Cancel op (corun_close of its descriptor): it completes with -EBADF,
 * or its result if it finished first. */
void corun__uop_cancel(struct corun__rt *rt, struct corun__uop *op);

/* The scheduler's hooks (fd.c routes corun__poll and corun__poll_due here
 * on this backend): submit what is queued, block for at most timeout_ns
 * (-1: no limit; 0: not at all) until something completes, and fire the
 * completions. How many waiters it fired. */
int corun__uring_poll(struct corun__rt *rt, int64_t timeout_ns);
void corun__uring_due(struct corun__rt *rt);

/* Watch the runtime's own descriptor fd for input (remote.c's eventfd),
 * reported as `key`: a multishot poll. 0, or -1 with errno. */
int corun__uring_watch(struct corun__rt *rt, int fd, uint64_t key);

/* In a child of fork: the ring is the parent's (its memory is shared with
 * it): let it go. The child's coroutines (copies of the parent's) that
 * waited for an operation submit it anew on the child's own ring, made at
 * the next need, as the epoll backend registers their descriptors anew;
 * an operation being cancelled ends as cancelled. */
void corun__uring_fork_child(struct corun__rt *rt);

#endif
