/*
 * Failure injection, for tests only, shared by the core and the stack
 * layer. Every allocation and mapping the library makes goes through
 * corun__fail(kind) first; in a build with
 * CORUN__FAILPOINTS defined (tests/: the corun_failpoints library), a test
 * can make the n-th next operation of a kind fail, as the real call would
 * (NULL, MAP_FAILED or -1, errno ENOMEM), and so walk every error path the
 * call site has. Elsewhere corun__fail is the constant 0 and the sites
 * compile to the plain calls: a release build carries none of this.
 *
 * Counters are per thread, like runtimes: a test arms the thread whose
 * runtime it means to fail, and threads running beside it are unaffected.
 */
#ifndef CORUN_FAILPOINT_H
#define CORUN_FAILPOINT_H

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>

/* One kind per place that asks for memory, a mapping or a descriptor. */
enum corun__fail_kind {
	CORUN__FAIL_RUNTIME,       /* runtime.c: the runtime's record */
	CORUN__FAIL_EXIT_KEY,      /* runtime.c: the thread-exit key's value */
	CORUN__FAIL_ALTSTACK,      /* overflow.c: the alternate signal stack */
	CORUN__FAIL_HANDLES,       /* handle.c: growing the handle table */
	CORUN__FAIL_HANDLES_SHRINK, /* handle.c: shrinking it */
	CORUN__FAIL_RING,          /* sched.c: the ready ring, grown or shrunk */
	CORUN__FAIL_CLASS,         /* stack.c: a size class of stacks */
	CORUN__FAIL_SLAB_ARRAY,    /* stack.c: the array of slabs */
	CORUN__FAIL_SLAB,          /* stack.c: mapping a slab */
	CORUN__FAIL_MAP_LIMIT,     /* maps.c: room under vm.max_map_count */
	CORUN__FAIL_GUARD,         /* guard.c: a stack's guard page */
	CORUN__FAIL_VG_STACKS,     /* stack.c: stack ids for valgrind */
	CORUN__FAIL_FREE_LIST,     /* stack.c: growing a class's free stacks */
	CORUN__FAIL_FREE_SHRINK,   /* decay.c: shrinking it */
	CORUN__FAIL_SPANS,         /* decay.c: scratch to find idle slabs */
	CORUN__FAIL_TIMER_HEAP,    /* time.c: the deadline heap */
	CORUN__FAIL_EPOLL,         /* fd.c: the descriptor idle waits on */
	CORUN__FAIL_FDS,           /* fd.c: the table of descriptors */
	CORUN__FAIL_CHAN,          /* chan.c: a channel */
	CORUN__FAIL_SELECT,        /* chan.c: waiters of a select over many */
	CORUN__FAIL_SYNC,          /* sync.c: a wait group or a mutex */
	CORUN__FAIL_WAKE,          /* remote.c: the wake descriptor (an eventfd) */
	CORUN__FAIL_THREAD,        /* group.c, blocking.c: a thread (EAGAIN) */
	CORUN__FAIL_GROUP,         /* group.c: a worker group, its tasks */
	CORUN__FAIL_JOB,           /* blocking.c: a job for the pool */
	CORUN__FAIL_URING,         /* uring.c: the runtime's ring (epoll then) */
	CORUN__FAIL_KINDS
};

#ifdef CORUN__FAILPOINTS
/* Count one operation of this kind; 1 if it is to fail. */
int corun__fail(enum corun__fail_kind kind);
/* Make `times` operations of this kind fail, from the n-th next one on
 * (n >= 1); times 0 disarms it. */
void corun__failpoint_arm(enum corun__fail_kind kind, unsigned long n, unsigned long times);
/* Operations of this kind counted, and of those failed, since the reset. */
unsigned long corun__failpoint_ops(enum corun__fail_kind kind);
unsigned long corun__failpoint_failed(enum corun__fail_kind kind);
/* Disarm every kind and zero the counts. */
void corun__failpoint_reset(void);
const char *corun__failpoint_name(enum corun__fail_kind kind);
#else
#define corun__fail(kind) ((void)(kind), 0)
#endif

/* The allocation calls, failing on demand: the call site's own error path
 * then runs exactly as for a real failure. */
static inline void *corun__malloc(enum corun__fail_kind kind, size_t size)
{
	if (corun__fail(kind)) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc(size);
}

static inline void *corun__calloc(enum corun__fail_kind kind, size_t n, size_t size)
{
	if (corun__fail(kind)) {
		errno = ENOMEM;
		return NULL;
	}
	return calloc(n, size);
}

static inline void *corun__realloc(enum corun__fail_kind kind, void *p, size_t size)
{
	if (corun__fail(kind)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, size);
}

static inline void *corun__mmap(enum corun__fail_kind kind, void *addr, size_t len, int prot,
				int flags, int fd, off_t off)
{
	if (corun__fail(kind)) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return mmap(addr, len, prot, flags, fd, off);
}

#endif
