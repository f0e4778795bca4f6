/*
 * The runtime's life: one per OS thread, created by the first spawn and
 * kept until corun_shutdown or the thread's exit. Running out of work does
 * not release it: building one costs system calls and page faults (slabs,
 * the alternate signal stack, the tables), and a program that spawns one
 * coroutine, joins it, and spawns again would pay them every time.
 */
#include "runtime.h"
#include "fork.h"
#include "shared.h"
#include "../failpoint.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

__thread struct corun__rt *corun__tls __attribute__((tls_model("initial-exec")));

/* A key whose destructor releases a thread's runtime when the thread exits.
 * Created once per process; the runtime itself is never shared. */
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_ok;

static void release(struct corun__rt *rt);

static void at_thread_exit(void *p)
{
	release(p);
}

static void make_exit_key(void)
{
	exit_key_ok = pthread_key_create(&exit_key, at_thread_exit) == 0;
}

void corun__panic(const char *file, int line, const char *what)
{
	fprintf(stderr, "corun: internal error at %s:%d: %s\n", file, line, what);
	abort();
}

struct corun__rt *corun__rt_get_or_make(void)
{
	struct corun__rt *rt = corun__tls;
	if (rt)
		return rt;
	pthread_once(&exit_key_once, make_exit_key);
	corun__fork_watch();
	rt = corun__calloc(CORUN__FAIL_RUNTIME, 1, sizeof *rt);
	if (!rt) {
		errno = ENOMEM;
		return NULL;
	}
	if (exit_key_ok && (corun__fail(CORUN__FAIL_EXIT_KEY) ||
			    pthread_setspecific(exit_key, rt) != 0)) {
		free(rt);
		errno = ENOMEM;
		return NULL;
	}
	/* Main keeps its own FP control state, and coroutines without
	 * CORUN_FPCTL share it: switches between them need not touch it. Only
	 * while CORUN_FPCTL coroutines live does main save its own when it
	 * leaves (main.fpctl; see corun__fpctl_join). */
	rt->main.state = CORUN__RUNNABLE;
	strcpy(rt->main.name, "main");
	rt->main.flags = CORUN__F_NAMED;
	rt->current = &rt->main;
	rt->id = corun__serial();
	/* Each part, by its owner; calloc made the rest zero. */
	corun__sched_init(&rt->sched);
	corun__handles_init(&rt->handles);
	corun__stacks_init(&rt->stacks);
	corun__upkeep_init(&rt->upkeep);
	corun__fds_init(&rt->fds);
	corun__uring_init(&rt->uring);
	corun__remote_init(&rt->remote);
	corun__select_init(&rt->select, rt->id);
	corun__stats_init(&rt->stats);
#ifdef CORUN__CHECKED
	corun__checked_init(&rt->checked); /* CORUN_CHECK, read once */
#endif
	corun__hook_init(rt);
	corun__overflow_init(rt);
	corun__report_init(rt); /* reads CORUN_STACK_REPORT */
	corun__start_pick(rt);
	corun__registry_add(rt);
	corun__tls = rt;
	return rt;
}

static void release(struct corun__rt *rt)
{
	int saved = errno;
	/* Nothing shared may point into its stacks once they go. */
	corun__shared_fini(rt);
	corun__remote_fini(&rt->remote);
	corun__uring_fini(rt); /* its operations write to stacks, which go below */
	corun__report_fini(rt); /* CORUN_STACK_REPORT: print it, before the stacks go */
	corun__registry_remove(rt);
	corun__overflow_fini(rt);
	corun__stacks_fini(&rt->stacks); /* every stack, in use or pooled */
	corun__handles_fini(&rt->handles);
	corun__sched_fini(&rt->sched);
	corun__timers_fini(&rt->timers);
	corun__fds_fini(&rt->fds);
	if (corun__tls == rt)
		corun__tls = NULL;
	if (exit_key_ok)
		pthread_setspecific(exit_key, NULL);
	free(rt);
	errno = saved;
}

int corun_shutdown(void)
{
	struct corun__rt *rt = corun__tls;
	int ok = corun__main_only(rt);
	if (ok <= 0)
		return ok;
	if (rt->sched.live > 0) {
		errno = EBUSY;
		return -1;
	}
	release(rt);
	return 0;
}
