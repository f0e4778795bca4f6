/*
 * Worker groups (group.c): threads, each with its own runtime, that run
 * coroutines spawned from anywhere (corun_group_go), started and stopped
 * as one.
 *
 * The rule everything here keeps: a coroutine that has started never
 * changes thread. C code may keep the address of errno, or of any __thread
 * variable, across a call (glibc declares __errno_location const, and
 * compilers reuse its result), so a coroutine moved to another thread would
 * read and write the first thread's errno. What moves between threads is a
 * task that has not started: a record (struct corun_task) with the
 * function and its argument, on a queue. A worker that takes it spawns it
 * as a coroutine of its own runtime, where it stays until it ends; its
 * result goes back through the task, which any thread may join.
 *
 * One lock, the group's (sh), guards the queues, the workers' counts and
 * every task's state, for as long as the group or any of its tasks lives:
 * a task outlives the group's stop (it can be joined after it), so the
 * group's memory goes only when the stop has returned and the last task
 * has been joined or detached (`live`), and the lock with it. Tasks are
 * coarse (a spawn, a join), so one lock per group costs less than the
 * lock order two kinds of lock would need.
 *
 * A task is in at most one list at a time through its prev/next links: the
 * group's queue (spawned for any worker, none idle), a worker's queue
 * (spawned for it, or handed to it because it was idle), or the group's
 * running list (taken by a worker: its coroutine is being made, or runs).
 */
#ifndef CORUN_THREADS_GROUP_H
#define CORUN_THREADS_GROUP_H

#include "corun.h"
#include "../core/shared.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct corun__worker;

struct corun__tlist {
	struct corun_task *head, *tail;
};

enum corun__task_state {
	CORUN__TASK_QUEUED = 1, /* on a queue: may still be taken by any worker it is for */
	CORUN__TASK_TAKEN,      /* a worker took it and is spawning its coroutine */
	CORUN__TASK_RUNNING,    /* its coroutine runs on its worker (w, rt, h) */
	CORUN__TASK_ENDED,      /* it returned (result), or never started (err) */
};

struct corun_task {
	corun_group *g;
	struct corun_task *prev, *next; /* in `list` */
	struct corun__tlist *list;      /* the one it is on, or NULL */
	struct corun_task *push_next;   /* a stop's list of cancels to send */
	corun_fn fn;
	void *arg;
	void *result;
	struct corun__wq joiners;       /* its one joiner, at most */
	struct corun__worker *w;        /* TAKEN, RUNNING: its worker */
	struct corun__rt *rt;           /* RUNNING: its worker's runtime */
	corun_t h;                      /* RUNNING: its coroutine there */
	struct corun__rnode cancel;     /* the cancel sent to its worker */
	int err;                        /* ENDED: 0, or why it never started */
	uint8_t state;                  /* enum corun__task_state */
	uint8_t user;                   /* its handle is still the program's */
	uint8_t joining;                /* a join waits on it */
	uint8_t cancel_asked;           /* canceled: its coroutine is, or will be */
	uint8_t cancel_inflight;        /* the cancel node is on its way */
};

struct corun__worker {
	corun_group *g;
	int index;
	pthread_t thread;
	struct corun__rt *rt;      /* its runtime, once it has one */
	struct corun__tlist q;     /* tasks for it alone */
	_Atomic size_t nq;         /* their number, for a look without the lock */
	struct corun__wq wait;     /* its main, waiting for its queue */
	size_t running;            /* its tasks TAKEN or RUNNING */
	size_t nodes;              /* cancels on their way to it */
};

struct corun_group {
	struct corun__shobj sh;     /* the lock; mem: the group */
	struct corun__tlist q;      /* tasks for any worker, none idle when spawned */
	_Atomic size_t nq;          /* their number, for a look without the lock */
	struct corun__tlist running; /* TAKEN and RUNNING tasks */
	struct corun__wq idle;      /* mains of workers with nothing ready to run */
	struct corun__wq ctl;       /* start and stop, waiting on the workers */
	size_t live;                /* tasks not yet freed */
	size_t n;                   /* workers */
	size_t created, ready, exited; /* threads made, with a runtime, ended */
	int err;                    /* why a worker could not start */
	int stopping;               /* 0, CORUN_GROUP_DRAIN or CORUN_GROUP_CANCEL */
	uint8_t user_done;          /* its stop has returned */
	unsigned gen;               /* the process's fork generation at start */
	unsigned flags;
	struct corun__worker w[];
};

#endif
