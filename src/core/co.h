/*
 * A coroutine record: what the runtime keeps of one coroutine, at the top of
 * its own stack. The scheduler, the wait core and spawn read and write it;
 * nothing outside src/core knows it.
 */
#ifndef CORUN_CO_H
#define CORUN_CO_H

#include "corun.h"
#include "../stack/stack.h"
#include "hooks.h"

#include <stdatomic.h>
#include <stdint.h>

/* Ready and Running are one state: which of the runnable ones runs is
 * rt->current's business, so a park writes no state at all. */
enum corun__state {
	CORUN__RUNNABLE = 1, /* in the ready queue, or rt->current */
	CORUN__BLOCKED,      /* waiting for something that will make it ready */
	CORUN__ENDED,        /* fn returned; its stack is about to be reused */
};

/*
 * Why a coroutine waits: the one record of it. corun__wait (wait.h) writes
 * the reason and the wait's object into the waiting coroutine's record
 * when the wait begins; the statistics count waits by reason (stats.c),
 * and debuggers read both (tools/gdb/corun-gdb.py, through the layout
 * tables, where each reason is "reason.NAME"), as Go's waitReason serves
 * its tracebacks, tracer and debugger alike. X(NAME, name): the reason,
 * the calls that wait for it, and its object.
 */
#define CORUN__WAIT_REASON_LIST(X)                                                        \
	X(SLEEP, sleep)         /* corun_sleep(_until): the deadline */                    \
	X(FOREVER, forever)     /* corun_sleep_until(-1): -1 */                             \
	X(JOIN, join)           /* corun_join(_until): the joined coroutine's record */     \
	X(CHAN_SEND, chan_send) /* corun_chan_send: the channel */                          \
	X(CHAN_RECV, chan_recv) /* corun_chan_recv: the channel */                          \
	X(SELECT, select)       /* corun_select: its cases (NULL when there are none) */    \
	X(WG, wg)               /* corun_wg_wait: the wait group */                         \
	X(MUTEX, mutex)         /* corun_mutex_lock: the mutex */                           \
	X(FD_READ, fd_read)     /* corun_read, _accept, _wait_fd(POLLIN): the number */    \
	X(FD_WRITE, fd_write)   /* corun_write, _connect, _wait_fd(POLLOUT): the number */ \
	X(FD_EITHER, fd_either) /* corun_wait_fd(POLLIN | POLLOUT): the number */          \
	X(TASK, task)           /* corun_task_join: the task */                            \
	X(GROUP, group)         /* a group's worker, start, stop (wait for each other) */ \
	X(BLOCKING, blocking)   /* corun_blocking, _getaddrinfo, _dial: the job */ \
	X(FILE, file)           /* corun_pread, _pwrite, _fsync, _openat: the number */

enum corun__wait_reason {
#define CORUN__WAIT_ENUM(NAME, name) CORUN__WAIT_##NAME,
	CORUN__WAIT_REASON_LIST(CORUN__WAIT_ENUM)
#undef CORUN__WAIT_ENUM
	CORUN__WAIT_REASONS
};

/* corun__co.flags */
#define CORUN__F_DETACHED 0x1u /* CORUN_DETACHED */
#define CORUN__F_NAMED 0x2u    /* name[] holds its name */
#define CORUN__F_CANCELED 0x4u /* canceled, unshielded: blocking calls fail */
#define CORUN__F_ARMED 0x8u    /* armed (line 2) is valid: it waits, or will */
#define CORUN__F_SHIELDED 0x10u /* corun_shield(1) */
#define CORUN__F_CANCEL_HELD 0x20u /* canceled while shielded: F_CANCELED
				    * again when the shield is dropped, so that
				    * a blocking call tests one bit (wait.h) */
#define CORUN__F_HOLDS 0x40u   /* held (line 2) is valid: mutexes it holds */
#define CORUN__F_SHARED 0x80u  /* its wait has waiters on shared objects:
				* won by the claim (shared.h) */

struct corun__waiter;
struct corun__timer;
struct corun_mutex;

/*
 * A coroutine record. It lives at the top of the coroutine's own stack, so a
 * park touches one cache line per coroutine for the record and the lines of
 * saved registers right below it. The first cache line holds everything a
 * spawn writes and a park or an end reads; the second, what only waits,
 * names and CORUN_FPCTL use, so a plain spawn writes one line, not two.
 */
struct corun__co {
	/* line 1 */
	void *sp;                 /* saved context while not running */
	uint8_t state;            /* enum corun__state */
	uint8_t fpctl;            /* keeps its own FP control state (CORUN_FPCTL) */
	uint8_t flags;            /* CORUN__F_* */
	uint8_t wait_reason;      /* with F_ARMED, once waiting: why (enum
				   * corun__wait_reason). Here, in padding,
				   * since line 2 is full; a spawn does not
				   * write it, and a wait writes line 1 anyway
				   * (state) */
	uint32_t slot;            /* index in the handle table */
	struct corun__waiter *joiners; /* waiting in corun_join for us (wait.h) */
	corun_fn fn;
	void *arg;
	struct corun__stack stack;
	/* line 2: waiting (wait.c) */
	struct corun__waiter *armed; /* with F_ARMED: what it waits on; first wins */
	/* While it waits, what on; once woken, how. One word for both, since
	 * line 2 is full: whoever wakes it clears F_ARMED and withdraws what
	 * it armed (withdraw_join reads wait_obj) before it writes wake_id
	 * and wake_err (wait.h, wait.c), so wait_obj is valid whenever
	 * F_ARMED is set and the wait has begun. */
	union {
		uint64_t wait_obj; /* with wait_reason: the object (co.h's list) */
		struct {
			int wake_id;  /* which of them fired (its id), or -1 */
			int wake_err; /* why: 0, or ETIMEDOUT, ECANCELED, EPIPE... */
		};
	};
	uint64_t fp;              /* its FP control state while suspended */
	struct corun_mutex *held; /* with F_HOLDS: the mutexes it holds (sync.c) */
	char name[CORUN_NAME_MAX];
	/* line 3: only waits on objects shared between threads touch it */
	_Atomic uint32_t *claim;  /* with F_SHARED: the wait's claim, on the
				   * waiter's stack beside what a firer
				   * writes (shared.h); 1 once one won */
#ifdef CORUN__ASAN
	void *asan_fake;          /* its fake stack while suspended (hooks.c) */
#endif
#ifdef CORUN__TSAN
	void *tsan_fiber;
#endif
} __attribute__((aligned(64)));

_Static_assert(__builtin_offsetof(struct corun__co, armed) <= 64,
	       "what a spawn writes must fit in the record's first cache line");

#endif
