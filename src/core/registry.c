/*
 * The registry of runtimes, for debuggers (registry.h).
 */
#include "registry.h"
#include "layout.h"
#include "runtime.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Only made and released runtimes change it. */
struct corun__registry corun__registry __attribute__((section(CORUN__REGISTRY_SECTION))) = {
	.magic = CORUN__REGISTRY_MAGIC,
	.version = CORUN__REGISTRY_VERSION,
	.layout = corun__layouts,
};
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

void corun__registry_add(struct corun__rt *rt)
{
	rt->reg.thread = (uintptr_t)pthread_self();
	rt->reg.tid = (int32_t)syscall(SYS_gettid);
	pthread_mutex_lock(&registry_lock);
	rt->reg.prev = NULL;
	rt->reg.next = corun__registry.head;
	if (rt->reg.next)
		rt->reg.next->reg.prev = rt;
	/* rt is whole before it is reachable: a debugger may stop us here. */
	__atomic_store_n(&corun__registry.head, rt, __ATOMIC_RELEASE);
	corun__registry.count++;
	pthread_mutex_unlock(&registry_lock);
}

void corun__registry_remove(struct corun__rt *rt)
{
	pthread_mutex_lock(&registry_lock);
	if (rt->reg.prev)
		rt->reg.prev->reg.next = rt->reg.next;
	else
		corun__registry.head = rt->reg.next;
	if (rt->reg.next)
		rt->reg.next->reg.prev = rt->reg.prev;
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
 * and kept here, still linked through reg.next, so that they stay
 * reachable memory rather than a leak to valgrind and LeakSanitizer. */
static struct corun__rt *forgotten;

void corun__registry_fork_child(struct corun__rt *rt)
{
	/* The lock was taken before the fork (fork.c): the list is whole. */
	struct corun__rt **link = &corun__registry.head;
	while (*link) {
		if (*link == rt)
			*link = rt->reg.next;
		else
			link = &(*link)->reg.next;
	}
	*link = forgotten;
	forgotten = corun__registry.head;
	corun__registry.head = rt;
	corun__registry.count = rt ? 1 : 0;
	if (rt) {
		rt->reg.next = rt->reg.prev = NULL;
		rt->reg.tid = (int32_t)syscall(SYS_gettid);
	}
	pthread_mutex_unlock(&registry_lock);
}

