/*
 * fork: a child is a copy of the forking thread, its runtime included
 * (corun.h, "Fork"), and shares nothing of corun with its parent.
 *
 * Memory is copied, so the runtime's tables, stacks and coroutines are the
 * child's own. What the parent and the child would share are the kernel
 * objects the runtime holds through descriptors, which fork duplicates: an
 * epoll instance shared by two processes hands each report to whichever
 * collects it first, so a child that so much as sleeps would take the
 * parent's. And the process-wide state under a lock: another thread may
 * hold the lock at the fork, and in the child no one would ever let it go.
 *
 * So the handlers below hold every such lock across the fork, and in the
 * child let each part drop what it shares. A part that comes to hold a
 * shared kernel object or a process-wide lock adds its step here:
 *   registry   the list of runtimes (runtime.c): locked across the fork;
 *              in the child it lists the forking thread's runtime alone.
 *              The other threads are gone, and their runtimes with them:
 *              left in memory, unreachable, never freed (their threads may
 *              have been in the middle of changing them).
 *   fd         the epoll instance (fd.c): let go; the child's own is made
 *              at its next need, and the descriptors its coroutines wait
 *              on are registered in it then.
 *   blocking   the pool of threads for blocking calls (threads/blocking.c):
 *              its lock held across the fork; in the child it has no
 *              thread and none of the parent's jobs, and starts threads
 *              anew at the next blocking call.
 * Each step makes system calls only (no allocation, no lock but its own),
 * as in a child of a threaded program until it calls exec.
 *
 * fork(2) runs the handlers (glibc's system(3), popen(3) and
 * posix_spawn(3) use a vfork-like clone instead, which runs no handlers and
 * no corun code before its exec); _Fork(3) and a raw clone(2) do not: such
 * a child must exec or _exit without calling corun.
 */
#include "fork.h"
#include "runtime.h"
#include "../threads/blocking.h"

#include <pthread.h>

static void prepare(void)
{
	corun__registry_lock();
	corun__blocking_fork_prepare();
}

static void parent(void)
{
	corun__blocking_fork_parent();
	corun__registry_unlock();
}

static void child(void)
{
	struct corun__rt *rt = corun__tls; /* the forking thread's, if any */
	corun__registry_fork_child(rt);
	corun__blocking_fork_child();
	if (rt) {
		corun__fd_fork_child(rt);
		corun__remote_fork_child(&rt->remote);
	}
}

static pthread_once_t watch_once = PTHREAD_ONCE_INIT;

static void install(void)
{
	/* Fails only without memory for the handlers, at the first runtime:
	 * a fork then behaves as before they existed. */
	(void)pthread_atfork(prepare, parent, child);
}

void corun__fork_watch(void)
{
	pthread_once(&watch_once, install);
}
