/*
 * Objects shared between threads (shared.c): what channels, mutexes, wait
 * groups, worker group tasks and blocking jobs made for every thread have
 * in common, over the wait core.
 *
 * A started coroutine never changes thread, and a runtime is touched only
 * by its own thread. What crosses threads is the object: it has a lock, and
 * queues of waiters (corun__swait) that coroutines of any runtime put on
 * them. Whoever completes a waiter's operation (a sender finding a waiting
 * receiver), on whatever thread, does the work under the object's lock and
 * then wakes the waiter's coroutine: directly when it belongs to the
 * calling thread's runtime, else through the waiter's runtime's inbox
 * (remote.h).
 *
 * The claim. A coroutine may wait on several things at once (select over
 * channels of several threads, a deadline, cancellation), and firers on
 * other threads do not see each other. So every wait in which a shared
 * waiter is armed (the coroutine's CORUN__F_SHARED) is won by a compare-
 * and-swap on the coroutine's `claim`, taken before any work is done for
 * it: a sender that loses it leaves the receiver alone and tries the next
 * (Go's selectDone). Firers of the coroutine's own thread (its deadline,
 * corun_cancel, a thread-local channel in the same select) take the claim
 * too (corun__claim); where only they could fire, the flag is clear and the
 * claim costs a test of flags.
 *
 * Withdrawing. A remote firer holds one object's lock; withdrawing the
 * waiter's other waiters would take others' (lock order, deadlock). So a
 * coroutine whose wait had shared waiters withdraws them itself once it
 * runs again (corun__shared_resume), taking one lock at a time. Every
 * firer marks the waiter it fired (withdraw = NULL) so that it is skipped.
 *
 * Lifetime. The waiter's owner, withdrawing, takes the object's lock: the
 * object must outlive every waiter that was ever on its queues. So the
 * object counts its waiters (armed and not withdrawn, under its lock), and
 * a free while some remain (they were woken, EPIPE, and have yet to run)
 * leaves the last withdraw to free it.
 */
#ifndef CORUN_SHARED_H
#define CORUN_SHARED_H

#include "lock.h"
#include "remote.h"
#include "wait.h"

#include <stdatomic.h>
#include <stdint.h>

/* A waiter on a shared object's queue, on its coroutine's stack. */
struct corun__swait {
	struct corun__waiter w;    /* w.ptr: the operation's element */
	struct corun__shobj *obj;
	struct corun__wq *q;
	struct corun__rt *rt;      /* its coroutine's runtime */
	struct corun__rnode node;  /* its wake, when fired from elsewhere */
	_Atomic uint32_t *claim;   /* its wait's claim: */
	_Atomic uint32_t claim_;   /* in the wait's first shared waiter, so
				    * that a firer writes one line of the
				    * waiter's stack for the claim, the wake
				    * and (often) the element */
	int err;                   /* fired with */
	uint8_t queued;            /* on q (under obj's lock) */
};

/* Arm sw for the running coroutine on obj's queue q (caller holds obj's
 * lock, and has made the runtime ready for remote wakes:
 * corun__remote_prepare). */
void corun__arm_shared(struct corun__rt *rt, struct corun__swait *sw, struct corun__shobj *obj,
		       struct corun__wq *q, void *ptr, int id);

/* Under obj's lock: the first waiter of q whose wait may be fired, claimed
 * and off the queue, or NULL. */
struct corun__swait *corun__sq_take(struct corun__shobj *obj, struct corun__wq *q);

/* Fire sw (taken by corun__sq_take), with err, from any thread; after the
 * object's lock is released or before, as suits the caller. */
void corun__sq_fire(struct corun__swait *sw, int err);

/* The running coroutine (or main) found a shared object ready while it had
 * already published waiters of this wait (select): it may complete that
 * operation itself only if it takes its own claim, corun__claim(rt->current)
 * (then it withdraws everything: corun__disarm, corun__shared_resume); if a
 * firer got there first, it must wait instead: the wake is on its way. */

/* After a wait with shared waiters (wait.h), on the waiter's own thread:
 * withdraw what the firer did not take. */
void corun__shared_resume(struct corun__rt *rt, struct corun__co *co);

/* Free obj now, or leave it to its last waiter (caller holds its lock,
 * which this releases). */
void corun__shobj_release(struct corun__shobj *obj);

/* A runtime's release (thread exit): end the waits its coroutines have on
 * shared objects, so that nothing shared points into its stacks. */
void corun__shared_fini(struct corun__rt *rt);

/* For the public calls on shared objects: the calling thread's runtime,
 * made if needed, and ready for remote wakes; NULL with errno. */
struct corun__rt *corun__shared_rt(void);

#endif
