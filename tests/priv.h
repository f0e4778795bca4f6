/*
 * The one door into corun's insides, for tests, the fuzz target and
 * benchmarks only. What a test cannot learn through include/corun.h it asks
 * here, and the answers are plain values (counts, handles, addresses to
 * compare, copies), never the runtime's own structs: only the file behind
 * this header, src/testing/priv.c, knows their fields, so a change inside
 * the runtime changes that file and no test.
 *
 * Every question is about the calling thread's runtime; one asked where
 * there is none answers 0 (or NULL, or none). Coroutines are named by
 * their handle, the thread's main context by 0. Where an answer names a
 * coroutine the runtime keeps a record of (the ready queue, a queue of
 * waiters), it gives the handle that record's slot in the handle table
 * holds, or -1 when that slot does not hold that record: a broken table.
 *
 * Linked from corun_priv (tests/CMakeLists.txt: the library's build
 * settings, with corun_static), or from a test variant of the library
 * (corun_checked, corun_failpoints), which carries it; the fuzz target
 * compiles it with its own copy of the sources.
 */
#ifndef CORUN_TEST_PRIV_H
#define CORUN_TEST_PRIV_H

#include <corun.h>

#include <stddef.h>
#include <stdint.h>

/* ---- the runtime */

/* This thread's runtime, as an address to compare (two answers are equal
 * while it is the same runtime); NULL when the thread has none. */
const void *corun_priv_runtime(void);
/* Handle slots held: live coroutines and ended ones whose result waits. */
size_t corun_priv_handles_used(void);
/* Slots the handle table has room for; entries the ready ring has room
 * for. */
size_t corun_priv_handles_cap(void);
size_t corun_priv_ring_cap(void);
/* Let at most n coroutines hold a handle slot at once, so that a test can
 * reach the limit (EAGAIN); 0 puts the default back. */
void corun_priv_slot_limit(uint32_t n);
/* Checked mode (CORUN_CHECK=1) is on in this runtime. */
int corun_priv_checked(void);
/* Seed corun_select's choice among ready cases. */
void corun_priv_select_seed(uint64_t seed);
/* Fill the operation budget, so that no blocking call yields for it until
 * the next wait refills it as usual. */
void corun_priv_budget_fill(void);

/* ---- coroutines */

enum {
	CORUN_PRIV_NONE,     /* the handle names nothing of this runtime */
	CORUN_PRIV_ENDED,    /* ended; its result waits for a join */
	CORUN_PRIV_RUNNABLE, /* running, or in the ready queue */
	CORUN_PRIV_BLOCKED,  /* waiting for something to make it ready */
};

/* What the door tells of one coroutine, copied out. */
struct corun_priv_co {
	int state;       /* CORUN_PRIV_* */
	corun_t handle;  /* as its record's slot names it (see above) */
	void *arg;       /* what it was spawned with */
	void *result;    /* ENDED: what it returned */
	int detached;    /* CORUN_DETACHED, or corun_detach */
	int canceled;    /* canceled and not shielded: blocking calls fail */
	int wake_err;    /* why its last wait ended: 0, ETIMEDOUT, ECANCELED... */
};

/* Coroutine h (0: main) into *out; its state, CORUN_PRIV_NONE included. */
void corun_priv_co(corun_t h, struct corun_priv_co *out);
/* Who runs now: 0 for main. */
corun_t corun_priv_running(void);
/* The ready queue, oldest first: how many are queued, and the first max of
 * them in who[] (0 for main). */
size_t corun_priv_ready(corun_t *who, size_t max);
/* Who waits in corun_join for h, oldest first, into who[] (0 for main):
 * their number, or max + 1 when there are more than max. */
size_t corun_priv_joiners(corun_t h, corun_t *who, size_t max);
/* Where h's stack lies: its lowest usable byte, and its usable size in
 * *size; NULL for main or a handle that names no live coroutine. */
char *corun_priv_stack(corun_t h, size_t *size);
/* Overwrite suspended coroutine h's saved stack pointer (what checked mode
 * must catch). */
void corun_priv_set_saved_sp(corun_t h, void *sp);

/* Why a coroutine waits (the one record of it, src/core/co.h), in the
 * runtime's order: priv.c checks that these match it. */
enum {
	CORUN_PRIV_WAIT_SLEEP,     /* object: the deadline */
	CORUN_PRIV_WAIT_FOREVER,   /* -1 */
	CORUN_PRIV_WAIT_JOIN,      /* the joined coroutine's record */
	CORUN_PRIV_WAIT_CHAN_SEND, /* the channel */
	CORUN_PRIV_WAIT_CHAN_RECV, /* the channel */
	CORUN_PRIV_WAIT_SELECT,    /* its cases (NULL when there are none) */
	CORUN_PRIV_WAIT_WG,        /* the wait group */
	CORUN_PRIV_WAIT_MUTEX,     /* the mutex */
	CORUN_PRIV_WAIT_FD_READ,   /* the descriptor number */
	CORUN_PRIV_WAIT_FD_WRITE,  /* the descriptor number */
	CORUN_PRIV_WAIT_FD_EITHER, /* the descriptor number */
	CORUN_PRIV_WAIT_TASK,      /* corun_task_join: the task */
	CORUN_PRIV_WAIT_GROUP,     /* a worker waiting for tasks, start and stop: the group */
	CORUN_PRIV_WAIT_BLOCKING,  /* the job (corun_blocking) */
	CORUN_PRIV_WAIT_FILE,      /* corun_pread...: the descriptor number */
	CORUN_PRIV_WAIT_REASONS
};
/* Why h (0: main) waits, CORUN_PRIV_WAIT_*, with its object in *obj; -1
 * when it is not waiting (nothing armed) or h names nothing. */
int corun_priv_wait_reason(corun_t h, uint64_t *obj);
/* Waits counted for reason r since the runtime was made. */
uint64_t corun_priv_waits(int r);
/* Coroutine h's record, as an address to compare (a join's object);
 * NULL when h names no live coroutine. */
const void *corun_priv_record(corun_t h);

/* ---- stacks */

/* Bytes of guard below every stack; 0 before the runtime has stacks. */
size_t corun_priv_guard(void);
/* The process guards stacks with mprotect (the fallback), not madvise. */
int corun_priv_guard_mprotect(void);
/* Mappings the process lets corun make under vm.max_map_count. */
size_t corun_priv_maps_budget(void);
/* Slab k of the stack pool (in the pool's order): its address, and in *len
 * and *stack_size (either may be NULL) its length and the size of its
 * stacks; NULL when there are k slabs or fewer. */
void *corun_priv_slab(size_t k, size_t *len, size_t *stack_size);
/* madvise calls that gave pooled stacks back, and slabs unmapped because
 * all their stacks were idle, since the runtime was made. */
size_t corun_priv_purge_calls(void);
size_t corun_priv_slabs_released(void);
/* corun_set_stack_decay's default interval, in nanoseconds. */
int64_t corun_priv_decay_default(void);
/* The alternate signal stack corun gave this thread; NULL if it gave none
 * (the thread had one of its own). */
void *corun_priv_altstack(void);

/* ---- waiting */

/* Deadlines pending; deadlines armed since the runtime was made. */
size_t corun_priv_timers(void);
uint64_t corun_priv_timers_armed(void);
/* Waits armed on descriptors. */
size_t corun_priv_fd_waiting(void);
/* Who waits on descriptor fd for events (POLLIN or POLLOUT): 1 with the
 * waiter in *who, 0 when nobody does. */
int corun_priv_fd_waiter(int fd, int events, corun_t *who);
/* The kernel has a descriptor report ready for the runtime to collect. */
int corun_priv_reports_pending(void);

/* ---- channels */

/* Bytes of a channel's own, before its buffer (the size limit counts them). */
size_t corun_priv_chan_size(void);
int corun_priv_chan_closed(corun_chan *ch);
/* Elements in the buffer, oldest first: how many, and the first max copied
 * into out. */
size_t corun_priv_chan_buffered(corun_chan *ch, void *out, size_t max);
/* Coroutines waiting to send (op CORUN_SEND) or to receive (CORUN_RECV),
 * oldest first, with the case index their call waits as (0 for a send or a
 * receive): their number, or max + 1 when there are more than max. */
size_t corun_priv_chan_waiters(corun_chan *ch, int op, corun_t *who, int *cases, size_t max);
/* A shared channel (any thread may ask): the waiters on it that a free
 * must leave it to, read under its lock. */
unsigned corun_priv_chan_users(corun_chan *ch);

/* ---- the registry of runtimes, for debuggers */

/* Runtimes on the process's list; the k-th of them, newest first, with its
 * thread's kernel id in *tid (may be NULL), or NULL past the end. */
unsigned corun_priv_registry_count(void);
const void *corun_priv_registry_at(unsigned k, int *tid);

/* ---- failure injection: only in the corun_failpoints library */

/* Kinds of operation that can be made to fail: 0 .. corun_priv_fail_kinds()
 * - 1, each with a name ("runtime", "slab", "epoll"...: failpoint.c). */
int corun_priv_fail_kinds(void);
const char *corun_priv_fail_name(int kind);
/* The kind of that name; -1 when there is none. */
int corun_priv_fail_kind(const char *name);
/* Make `times` operations of the kind fail, from the n-th next one on;
 * times 0 disarms it. Counted per thread. */
void corun_priv_fail_arm(int kind, unsigned long n, unsigned long times);
/* Operations of the kind counted, and of those failed, since the reset;
 * the reset disarms every kind and zeroes the counts. */
unsigned long corun_priv_fail_ops(int kind);
unsigned long corun_priv_fail_failed(int kind);
void corun_priv_fail_reset(void);

#endif
