/*
 * Wait groups and mutexes (sync.c): what the rest of the runtime needs of
 * them.
 */
#ifndef CORUN_SYNC_H
#define CORUN_SYNC_H

#include "runtime.h"
#include "lock.h"

struct corun_wg {
	uint64_t owner; /* the runtime's id, or CORUN__SHARED */
	int64_t count;
	struct corun__wq waiters;
	struct corun__shobj sh; /* a shared one's lock (sync_shared.c) */
};

struct corun_mutex {
	uint64_t owner;
	uint64_t holder; /* serial of the coroutine holding it, 0 for main */
	int locked;
	int abandoned;   /* its holder ended holding it: the next taker is told */
	struct corun__wq waiters;
	struct corun_mutex *prev, *next; /* on its holder's co->held */
	struct corun__shobj sh;
};

/* Shared wait groups and mutexes (sync_shared.c): sync.c's calls hand
 * over to these when the object is shared. */
void *corun__sync_make_shared(size_t size);
int corun__swg_add(corun_wg *wg, int64_t delta);
int corun__swg_wait(corun_wg *wg, int64_t deadline);
int corun__swg_free(corun_wg *wg);
int corun__smutex_lock(corun_mutex *mu, int64_t deadline);
int corun__smutex_unlock(corun_mutex *mu);
int corun__smutex_free(corun_mutex *mu);
/* co, ending, held the shared mutex mu (corun__mutex_orphans). */
void corun__smutex_orphan(struct corun__rt *rt, struct corun_mutex *mu);
/* A mutex's list of its holder's mutexes (sync.c). */
void corun__mutex_hold(struct corun__co *co, struct corun_mutex *mu);
void corun__mutex_unhold(struct corun__co *co, struct corun_mutex *mu);

/* co has ended holding the mutexes on co->held (CORUN__F_HOLDS): hand each
 * to its next waiter, whose lock fails with EOWNERDEAD holding it, or
 * leave it free and abandoned, for the next corun_mutex_lock to say so. */
void corun__mutex_orphans(struct corun__rt *rt, struct corun__co *co);

#endif
