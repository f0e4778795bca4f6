/*
 * Blocking calls offloaded (blocking.c): a function run on a pool thread
 * while the coroutine (or main) that asked for it waits and the others of
 * its thread run.
 *
 * A job is shared by its caller and the pool thread that runs it: a shared
 * object (shared.h) whose one waiter is the caller, with a count of its two
 * holders under its lock. The pool thread fires the caller with the core's
 * corun__sq_take and corun__sq_fire (it has no runtime); a caller whose
 * deadline or cancellation came first leaves, and whichever of the two
 * lets go last frees the job, handing fn's result to the discard hook when
 * the caller had left.
 *
 * The pool is process-wide: plain pthreads, started when a job finds no
 * thread free to take it, up to a limit, each leaving after it has been
 * idle for the keep-alive (corun_blocking_config). Jobs wait in one FIFO.
 */
#ifndef CORUN_BLOCKING_H
#define CORUN_BLOCKING_H

#include <stddef.h>
#include <stdint.h>

struct corun__job;

/* The checks an offloaded call makes once its own arguments are good, in
 * the order every blocking call makes them: the deadline (EINVAL),
 * cancellation (ECANCELED), deadline 0 (ETIMEDOUT: a job always waits).
 * 0, or -1 with errno. */
int corun__blocking_may(int64_t deadline);

/* A job with `extra` bytes of its own (aligned for any type), which live
 * as long as it does: what fn needs that must outlive a caller who leaves
 * (resolve.c's strings). NULL with errno ENOMEM. */
struct corun__job *corun__job_make(size_t extra);
void *corun__job_extra(struct corun__job *j);
/* A job made and never run. */
void corun__job_free(struct corun__job *j);

/* Run fn(arg) for j on a pool thread and wait for it until the deadline
 * (corun__blocking_may passed). 0 when fn returned: its result in *result
 * (if result is not NULL), and j is the caller's alone, to read and then
 * free with corun__job_free. -1 with errno (ETIMEDOUT, ECANCELED, EAGAIN,
 * ENOMEM, those of the runtime's making) when not: j is gone, or the pool
 * thread frees it once fn returns, calling discard(result, arg) first if
 * discard is not NULL. */
int corun__job_run(struct corun__job *j, void *(*fn)(void *), void *arg,
		   void (*discard)(void *result, void *arg), void **result, int64_t deadline);

/* The same, the wait counted for `reason` (co.h): file.c's calls. */
int corun__job_run_as(struct corun__job *j, void *(*fn)(void *), void *arg,
		      void (*discard)(void *result, void *arg), void **result, int64_t deadline,
		      int reason);

/* fork (fork.c): the pool's lock is held across the fork, so that its
 * lists are whole in the child; the child then has no pool thread and
 * none of the parent's jobs (corun.h, "Blocking calls"). */
void corun__blocking_fork_prepare(void);
void corun__blocking_fork_parent(void);
void corun__blocking_fork_child(void);

#endif
