/*
 * The per-thread runtime: what one thread's coroutines share, made of one
 * part per subsystem, each defined, made and released by the file that
 * owns it (the shape of libdill's struct dill_ctx):
 *
 *   sched     the ready queue, the ended stack, live count (sched.h)
 *   spawn     record placement and the entry function (coroutine.h)
 *   handles   the handle table (handle.h)
 *   stacks    the stack pool (../stack/stack.h)
 *   upkeep    when memory goes back (upkeep.h)
 *   overflow  the alternate signal stack (overflow.h)
 *   timers    armed deadlines (time.h)
 *   fds       the epoll instance and the descriptor table (fd.h)
 *   select    select's random choice (chan.h)
 *   hooks     the sanitizer hooks' state, ASan builds only (hooks.h)
 *   reg       its links in the process's registry (registry.h)
 *   stats     counters kept on slow paths only (stats.h)
 *   report    the CORUN_STACK_REPORT table, or NULL (report.h)
 *   checked   checked mode's state, CORUN__CHECKED builds only (checked.h)
 *   remote    the inbox other threads wake its coroutines through (remote.h)
 *   uring     the io_uring ring, when that is the backend (../io/uring.h)
 *
 * The record of the coroutine running (current) and the scheduler's part
 * come first: a park reads nothing else, all in one cache line.
 *
 * Scheduling is symmetric: a coroutine that parks switches straight to the
 * next ready one, one switch per park. The thread's main context is a record
 * like the others (rt->main, without a stack of its own); inside corun_run it
 * waits, and is switched to only when no coroutine is ready. So whenever a
 * coroutine ends or blocks and the queue is empty, main is the one to resume:
 * it is then either done (nothing left) or stuck (everything blocked).
 */
#ifndef CORUN_RUNTIME_H
#define CORUN_RUNTIME_H

#include "corun.h"
#include "../arch/switch.h"
#include "../stack/stack.h"
#include "chan.h"
#include "checked.h"
#include "co.h"
#include "coroutine.h"
#include "fd.h"
#include "handle.h"
#include "overflow.h"
#include "panic.h"
#include "registry.h"
#include "remote.h"
#include "report.h"
#include "sched.h"
#include "stats.h"
#include "time.h"
#include "hooks.h"
#include "upkeep.h"
#include "../io/uring.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct corun__rt {
	struct corun__co *current;
	struct corun__sched sched;
	struct corun__spawn spawn;
	struct corun__handles handles;
	struct corun__stacks stacks;
	struct corun__upkeep upkeep;
	struct corun__overflow overflow;
	struct corun__timers timers;
	struct corun__fds fds;
	struct corun__select select;
	uint64_t id;            /* unique in the process: channels and sync
				 * objects remember the runtime they belong to */
#ifdef CORUN__ASAN
	struct corun__hooks hooks;
#endif
	struct corun__co main;  /* the thread's own context (keeps its FP state) */
	/* After main, so that no field the scheduler uses moves. */
	struct corun__reg reg;
	struct corun__stats stats;
	struct corun__report *report;
	struct corun__uring uring;
#ifdef CORUN__CHECKED
	struct corun__checked checked; /* last but one, so that no other field moves */
#endif
	struct corun__remote remote; /* on lines of its own: other threads write it */
};

/* The calling thread's runtime, or NULL. initial-exec: one %fs-relative
 * load, no __tls_get_addr call, even in the shared library. */
extern __thread struct corun__rt *corun__tls
	__attribute__((tls_model("initial-exec")));

/* The calling thread's runtime, made first if it has none (the first
 * spawn, channel or blocking call of a thread makes it); NULL + ENOMEM. */
struct corun__rt *corun__rt_get_or_make(void);

/* For the calls only the thread's main context may make: 1 when it is the
 * caller; 0 when the thread has no runtime (nothing to do); -1 with errno
 * EPERM when a coroutine is the caller. */
static inline int corun__main_only(const struct corun__rt *rt)
{
	if (!rt)
		return 0;
	if (rt->current != &rt->main) {
		errno = EPERM;
		return -1;
	}
	return 1;
}

/* For the objects that belong to one runtime (channels, wait groups,
 * mutexes: each remembers its runtime's id): the calling thread's runtime
 * if obj belongs to it; NULL with errno EINVAL (no object) or EPERM
 * (another thread's, or a runtime since shut down). */
static inline struct corun__rt *corun__rt_owning(const void *obj, uint64_t owner)
{
	struct corun__rt *rt = corun__tls;
	if (!obj) {
		errno = EINVAL;
		return NULL;
	}
	if (!rt || rt->id != owner) {
		errno = EPERM;
		return NULL;
	}
	return rt;
}

#endif
