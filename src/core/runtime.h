/*
 * The per-thread runtime: what one thread's coroutines share. Internal;
 * nothing here is exported. Each part has the header of the file that owns
 * it: the record (co.h), the handle table (handles.h), the ready queue and
 * the switches (sched.h), the stack pool (../stack/stack.h), waiting
 * (wait.h), upkeep (upkeep.h), FP control state (fpctl.h), overflow reports
 * (overflow.h).
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
#include "co.h"
#include "handles.h"
#include "panic.h"
#include "tooling.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* What a wait is for, counted by kind in corun_stats (wait.h). */
enum corun__wait_kind {
	CORUN__WAIT_SLEEP,
	CORUN__WAIT_CHAN,
	CORUN__WAIT_JOIN,
	CORUN__WAIT_SYNC,
	CORUN__WAIT_FD,
	CORUN__WAIT_KINDS
};

struct corun__report;

struct corun__rt {
	struct corun__co *current;
	/* the ready queue (sched.h) */
	struct corun__co **ring;
	size_t mask;            /* ring size - 1 (a power of two), or 0 */
	size_t admit;           /* a spawn at this many live goes slow (sched.h) */
	size_t head, tail;      /* run free: head counts dequeues (stats.c) */
	struct corun__co *dead; /* ended; its stack is still under our feet */
	size_t live;            /* spawned and not ended */
	unsigned color;         /* where the last record went (coroutine.c) */
	uint32_t budget;        /* blocking calls left before one yields (wait.h) */
	void (*entry)(void *);  /* where coroutines start (coroutine.c) */
	struct corun__handles handles;
	struct corun__stacks stacks;
	unsigned tick;          /* events until the next upkeep (upkeep.h) */
	int64_t epoch_end;      /* when the pool's epoch ends (coarse ns) */
	size_t nfpctl;          /* live CORUN_FPCTL coroutines (fpctl.h) */
	void *altstack;         /* our alternate signal stack (overflow.h) */
	/* waiting (wait.h, time.c) */
	struct corun__timer **heap; /* armed deadlines, a 4-ary min-heap */
	size_t ntimers, heapcap;
	uint64_t timer_seq;     /* arming order, for FIFO among equal deadlines */
	int epfd;               /* the idle step blocks here; -1 until needed */
	/* descriptors (fd.h) */
	struct corun__fd **fd_pages; /* by descriptor number / CORUN__FD_PAGE */
	size_t fd_npages;
	size_t fd_waiting;      /* waiters armed on descriptors */
	int64_t poll_next;      /* coarse ns: collect reports on main's turn */
	int64_t fd_sweep_at;    /* coarse ns: check registrations (fd.h) */
	uint32_t fd_sweeps;     /* sweeps made */
	uint8_t fd_fresh;       /* waits armed that no sweep has checked */
	uint8_t fd_forked;      /* a child of fork: registrations to forget */
	uint8_t main_woken;     /* main's wait has fired */
	uint64_t id;            /* unique in the process: channels and sync
				 * objects remember the runtime they belong to */
	uint64_t rand;          /* select's choice among ready clauses */
#ifdef CORUN__ASAN
	const void *asan_main_bottom; /* the main context's stack (tooling.c) */
	size_t asan_main_size;
	struct corun__co *asan_from;  /* who switched last */
#endif
	struct corun__co main;  /* the thread's own context (keeps its FP state) */
	/* In the process's registry (below); after main, so that no field the
	 * scheduler uses moves. */
	struct corun__rt *reg_next, *reg_prev;
	uintptr_t reg_thread;   /* pthread_self() of its thread */
	int32_t reg_tid;        /* its thread's kernel id (gettid) */
	/* Statistics (stats.c). Each is written on a slow path only; the rest
	 * of corun_stats is derived from counters kept anyway. */
	size_t peak;            /* most live at once; see corun__ready_admit */
	size_t peak_undo;       /* peak before the spawn that raised it... */
	uint64_t peak_token;    /* ...which is the one this serial position names */
	uint64_t serial_mark;   /* corun__serial_next when last accounted... */
	uint64_t spawned_base;  /* ...and the spawns counted before it */
	uint64_t unwound;       /* spawns that gave their stack back, failing */
	uint64_t to_main;       /* switches to main that dequeued nothing */
	uint64_t waits[CORUN__WAIT_KINDS];
	struct corun__report *report; /* CORUN_STACK_REPORT=1: its table */
#ifdef CORUN__CHECKED
	/* Checked mode (checked.h): last, so that no other field moves. */
	int checked;            /* CORUN_CHECK=1 when the runtime was made */
	uint64_t check_main_fp; /* main's FP control state when it last left */
#endif
};

/*
 * The registry: every runtime of the process, for debuggers
 * (tools/gdb/corun-gdb.py). A debugger finds a thread's runtime here by the
 * thread's kernel id, reading memory only: the thread-local corun__tls can
 * be read from outside only through libthread_db, which a core file of a
 * static program, or one read on another machine, does without. Kept under
 * a lock, and only when a runtime is made or released: neither a switch
 * nor a spawn touches it. A debugger that stops the process while a thread
 * is linking or unlinking may see the list half updated; links are
 * written so that a reader from head always meets whole runtimes (a new
 * one is complete before it is linked).
 *
 * It lives alone in the section CORUN__REGISTRY_SECTION, which strip keeps
 * (it is loaded data): a debugger finds it by the section in the program or
 * library's section headers, where the symbol corun__registry is gone (a
 * stripped program: it is a hidden symbol, in no dynamic symbol table).
 * From it, the layout tables (layout.h) give every offset and constant the
 * debugger needs, so it needs no debug information either.
 *
 * The layout of this struct is an interface with the debugger script, as
 * is the entry format of the tables: change them together, and bump
 * version. Version 2 added layout.
 */
#define CORUN__REGISTRY_MAGIC 0x636f7275726567ull /* "corureg" */
#define CORUN__REGISTRY_VERSION 2u
#define CORUN__REGISTRY_SECTION "corun_registry"

struct corun__layout_entry;

struct corun__registry {
	uint64_t magic;          /* CORUN__REGISTRY_MAGIC */
	uint32_t version;        /* CORUN__REGISTRY_VERSION */
	uint32_t count;          /* runtimes on the list */
	struct corun__rt *head;  /* newest first, through reg_next */
	const struct corun__layout_entry *const *layout; /* corun__layouts */
};

extern struct corun__registry corun__registry;

/* Around a fork (fork.c): the lock is held across it, so that the child
 * finds the list whole; the child's step keeps only its own runtime (rt,
 * NULL if its thread has none) on the list, and lets the lock go. */
void corun__registry_lock(void);
void corun__registry_unlock(void);
void corun__registry_fork_child(struct corun__rt *rt);

/* The calling thread's runtime, or NULL. initial-exec: one %fs-relative
 * load, no __tls_get_addr call, even in the shared library. */
extern __thread struct corun__rt *corun__tls
	__attribute__((tls_model("initial-exec")));

/* The calling thread's runtime, created if need be; NULL + ENOMEM. */
struct corun__rt *corun__rt_get(void);

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

/* CORUN_STACK_REPORT (stats.c). Only in that mode do coroutines start at
 * corun__entry_measured, and end through corun__exit_measured, which always
 * leaves the stack to corun__reap: there, off the stack, report_end
 * measures what it used and gives the pages below its top back, so that
 * its next user is measured from a clean state. */
void corun__report_init(struct corun__rt *rt);
_Noreturn void corun__exit_measured(struct corun__rt *rt, struct corun__co *co);
void corun__report_end(struct corun__rt *rt, struct corun__co *co);
void corun__report_fini(struct corun__rt *rt);
/* Set rt->entry for the mode (coroutine.c). */
void corun__entry_pick(struct corun__rt *rt);

/* Give the stack of the coroutine that ended last back to the pool, once
 * we are surely off it. */
static inline void corun__reap(struct corun__rt *rt)
{
	struct corun__co *dead = rt->dead;
	if (dead) {
		rt->dead = NULL;
		corun__tool_dead(rt, dead);
		if (rt->report)
			corun__report_end(rt, dead);
		corun__stack_put(&dead->stack);
	}
}

#endif
