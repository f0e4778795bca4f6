/*
 * The runtime's life: one per OS thread, created by the first spawn and
 * kept until corun_shutdown or the thread's exit. Running out of work does
 * not release it: building one costs system calls and page faults (slabs,
 * the alternate signal stack, the tables), and a program that spawns one
 * coroutine, joins it, and spawns again would pay them every time.
 */
#include "runtime.h"
#include "checked.h"
#include "fd.h"
#include "fork.h"
#include "layout.h"
#include "overflow.h"
#include "upkeep.h"
#include "wait.h"
#include "../failpoint.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__thread struct corun__rt *corun__tls __attribute__((tls_model("initial-exec")));

/* A key whose destructor releases a thread's runtime when the thread exits.
 * Created once per process; the runtime itself is never shared. */
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_ok;

static void release(struct corun__rt *rt);

/* The registry (runtime.h). Only made and released runtimes change it. */
struct corun__registry corun__registry __attribute__((section(CORUN__REGISTRY_SECTION))) = {
	.magic = CORUN__REGISTRY_MAGIC,
	.version = CORUN__REGISTRY_VERSION,
	.layout = corun__layouts,
};
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

static void registry_add(struct corun__rt *rt)
{
	rt->reg_thread = (uintptr_t)pthread_self();
	rt->reg_tid = (int32_t)syscall(SYS_gettid);
	pthread_mutex_lock(&registry_lock);
	rt->reg_prev = NULL;
	rt->reg_next = corun__registry.head;
	if (rt->reg_next)
		rt->reg_next->reg_prev = rt;
	/* rt is whole before it is reachable: a debugger may stop us here. */
	__atomic_store_n(&corun__registry.head, rt, __ATOMIC_RELEASE);
	corun__registry.count++;
	pthread_mutex_unlock(&registry_lock);
}

static void registry_remove(struct corun__rt *rt)
{
	pthread_mutex_lock(&registry_lock);
	if (rt->reg_prev)
		rt->reg_prev->reg_next = rt->reg_next;
	else
		corun__registry.head = rt->reg_next;
	if (rt->reg_next)
		rt->reg_next->reg_prev = rt->reg_prev;
	corun__registry.count--;
	pthread_mutex_unlock(&registry_lock);
}

void corun__registry_lock(void)
{
	pthread_mutex_lock(&registry_lock);
}

void corun__registry_unlock(void)
{
	pthread_mutex_unlock(&registry_lock);
}

/* In a child of fork, the runtimes of the threads it does not have: off
 * the registry, never freed (their threads may have been changing them),
 * and kept here, still linked through reg_next, so that they stay
 * reachable memory rather than a leak to valgrind and LeakSanitizer. */
static struct corun__rt *forgotten;

void corun__registry_fork_child(struct corun__rt *rt)
{
	/* The lock was taken before the fork (fork.c): the list is whole. */
	struct corun__rt **link = &corun__registry.head;
	while (*link) {
		if (*link == rt)
			*link = rt->reg_next;
		else
			link = &(*link)->reg_next;
	}
	*link = forgotten;
	forgotten = corun__registry.head;
	corun__registry.head = rt;
	corun__registry.count = rt ? 1 : 0;
	if (rt) {
		rt->reg_next = rt->reg_prev = NULL;
		rt->reg_tid = (int32_t)syscall(SYS_gettid);
	}
	pthread_mutex_unlock(&registry_lock);
}

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

struct corun__rt *corun__rt_get(void)
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
	rt->main.state = CORUN__RUNNABLE;
	/* Main keeps its own FP control state, and coroutines without
	 * CORUN_FPCTL share it: switches between them need not touch it. Only
	 * while CORUN_FPCTL coroutines live does main save its own when it
	 * leaves (main.fpctl; see corun__fpctl_join). */
	strcpy(rt->main.name, "main");
	rt->main.flags = CORUN__F_NAMED;
	rt->epfd = -1;
	rt->id = corun__serial();
	rt->serial_mark = corun__serial_next; /* spawns count from here (stats.c) */
	rt->rand = rt->id * UINT64_C(0x9e3779b97f4a7c15) | 1;
	rt->current = &rt->main;
	rt->tick = CORUN__TICK_EVERY;
	rt->budget = CORUN__BUDGET;
#ifdef CORUN__CHECKED
	rt->checked = corun__check_enabled(); /* CORUN_CHECK, read once */
#endif
	corun__handles_init(&rt->handles);
	corun__stacks_init(&rt->stacks);
	corun__tool_init(rt);
	corun__overflow_init(rt);
	corun__report_init(rt); /* reads CORUN_STACK_REPORT */
	corun__entry_pick(rt);
	registry_add(rt);
	corun__tls = rt;
	return rt;
}

static void release(struct corun__rt *rt)
{
	int saved = errno;
	corun__report_fini(rt); /* CORUN_STACK_REPORT: print it, before the stacks go */
	registry_remove(rt);
	corun__overflow_fini(rt);
	corun__stacks_fini(&rt->stacks); /* every stack, reaped or not */
	corun__handles_fini(&rt->handles);
	free(rt->ring);
	free(rt->heap);
	corun__fd_fini(rt);
	if (rt->epfd >= 0)
		close(rt->epfd);
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
	if (rt->live > 0) {
		errno = EBUSY;
		return -1;
	}
	release(rt);
	return 0;
}
