/*
 * The remote wake (remote.c): how another thread makes something happen
 * in this runtime, which only its own thread may touch.
 *
 * A thread that must wake a coroutine of another runtime (it handed it a
 * message, a mutex, a result) pushes a node onto that runtime's inbox, a
 * lock-free stack; the runtime's own thread takes the whole stack at once
 * and runs each node (a wake: the coroutine made ready) on its scheduler's
 * next pass. A busy runtime finds its inbox on main's turn in the ring, as
 * it finds expired deadlines: no system call on either side. Only a runtime
 * that is asleep in epoll_wait, or about to be, needs its wake descriptor
 * (an eventfd in its epoll instance) written, and only once per sleep:
 *
 *   owner, before it sleeps            pusher
 *   sleeping = 1                       push the node
 *   inbox empty? then sleep            was sleeping 1? set it 0, write
 *
 * Both sides' first step is sequentially consistent, so either the owner
 * sees the node and does not sleep, or the pusher sees `sleeping` and
 * writes: no wake is lost (Go's netpollBreak with netpollWakeSig, Seastar's
 * _sleeping). The exchange makes the first pusher of a burst the only one
 * to write.
 *
 * Before it sleeps, a runtime that has waits a remote may end spins on its
 * inbox for CORUN__SPIN_NS: a wake from another CPU that finds it sleeping
 * costs tens of microseconds on these machines, one that finds it spinning
 * tens of nanoseconds (bench/threads/ measures both, and what spinning
 * costs an idle program).
 *
 * Lifetime: a pusher keeps touching the runtime after its push (the
 * `sleeping` flag, the descriptor), so it counts itself in `busy` from
 * before the push until it is done, and the runtime's release waits for
 * busy to be 0 (pushes happen only for waits of its own coroutines, which
 * its release has ended first: shared.c).
 */
#ifndef CORUN_REMOTE_H
#define CORUN_REMOTE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct corun__rt;

/* One thing to do in the runtime's thread. */
struct corun__rnode {
	struct corun__rnode *next;
	void (*run)(struct corun__rt *rt, struct corun__rnode *n);
};

/* How long a runtime with remote waits pending spins before it sleeps,
 * unless CORUN_SPIN_NS in the environment says otherwise (read when the
 * runtime is made; 0: never spin). */
#define CORUN__SPIN_NS 50000

/* The runtime's part. Other threads write its first fields; padding keeps
 * them off the lines of the owner's (the runtime is allocated with
 * malloc's alignment, so padding rather than an aligned type). */
struct corun__remote {
	char gap_[64];
	_Atomic(struct corun__rnode *) inbox;
	_Atomic int sleeping;    /* asleep in the kernel, or about to be */
	char pad_[64 - sizeof(void *) - sizeof(int)];
	/* Pushers only, on a line of its own: a pusher's thread keeps it,
	 * where on the inbox's line each touch would take the line back
	 * from the owner spinning on it. */
	_Atomic unsigned busy;   /* pushers between their push and their last touch */
	_Atomic uint64_t kicks;  /* wake descriptor writes (corun_stats) */
	char pad2_[64 - sizeof(int) - sizeof(uint64_t)];
	int efd;                 /* the wake descriptor, -1 until needed */
	int64_t spin_ns;         /* CORUN__SPIN_NS or CORUN_SPIN_NS */
	size_t waits;            /* coroutines (or main) in a wait a remote may end */
	uint64_t delivered;      /* nodes run (corun_stats) */
};

void corun__remote_init(struct corun__remote *r);
/* At release, once no wait of the runtime can be ended by a remote any
 * more: waits out the last pushers, closes the descriptor. */
void corun__remote_fini(struct corun__remote *r);

/* Before a wait a remote may end: the wake descriptor exists and is in the
 * runtime's epoll instance. 0, or -1 with errno (EMFILE, ENOMEM...). */
int corun__remote_prepare(struct corun__rt *rt);

/* From any thread: have n run in rt's thread. */
void corun__remote_push(struct corun__rt *rt, struct corun__rnode *n);

/* Run what the inbox holds, in the order it was pushed. How many. */
size_t corun__remote_drain_slow(struct corun__rt *rt);
static inline size_t corun__remote_drain(struct corun__rt *rt, struct corun__remote *r)
{
	if (__builtin_expect(atomic_load_explicit(&r->inbox, memory_order_relaxed) == NULL, 1))
		return 0;
	return corun__remote_drain_slow(rt);
}

/* The idle step's part (sched.c), when remote waits are pending and
 * nothing else is ready: spin for a while; 1 if something arrived (it
 * has been run). Else 0, with `sleeping` published: the caller sleeps in
 * epoll_wait and then calls corun__remote_awake. */
int corun__remote_before_sleep(struct corun__rt *rt, int64_t timeout_ns);
void corun__remote_awake(struct corun__rt *rt);

/* In a child of fork: the wake descriptor is the parent's (and in no epoll
 * instance of the child's), and the parent's pushers are not the child's:
 * a new descriptor at the next need, no pusher counted. The inbox keeps
 * what was pushed. */
void corun__remote_fork_child(struct corun__remote *r);

/* The epoll key of the wake descriptor (fd.c's keys are a descriptor
 * number and a generation; no descriptor number is this large). */
#define CORUN__REMOTE_KEY UINT64_MAX
/* fd.c, on its report: drain the descriptor. */
void corun__remote_on_event(struct corun__rt *rt);

#endif
