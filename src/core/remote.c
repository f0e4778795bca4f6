/*
 * The remote wake (remote.h).
 */
#include "remote.h"
#include "runtime.h"
#include "lock.h"
#include "../failpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

void corun__remote_init(struct corun__remote *r)
{
	r->efd = -1;
	r->spin_ns = CORUN__SPIN_NS;
	const char *env = getenv("CORUN_SPIN_NS");
	if (env && *env) {
		char *end;
		long long v = strtoll(env, &end, 10);
		if (!*end && v >= 0 && v <= 1000000000)
			r->spin_ns = v;
	}
}

void corun__remote_fini(struct corun__remote *r)
{
	/* A pusher between its push and its write: a few instructions. */
	while (atomic_load_explicit(&r->busy, memory_order_acquire))
		corun__cpu_relax();
	if (r->efd >= 0)
		close(r->efd);
	r->efd = -1;
}

int corun__remote_prepare(struct corun__rt *rt)
{
	struct corun__remote *r = &rt->remote;
	if (__builtin_expect(r->efd >= 0, 1))
		return 0;
	int efd;
	if (corun__fail(CORUN__FAIL_WAKE)) {
		errno = EMFILE;
		return -1;
	}
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -1;
	if (corun__fd_watch(rt, efd, CORUN__REMOTE_KEY) < 0) {
		int err = errno;
		close(efd);
		errno = err;
		return -1;
	}
	r->efd = efd;
	return 0;
}

void corun__remote_push(struct corun__rt *rt, struct corun__rnode *n)
{
	struct corun__remote *r = &rt->remote;
	atomic_fetch_add_explicit(&r->busy, 1, memory_order_relaxed);
	struct corun__rnode *head = atomic_load_explicit(&r->inbox, memory_order_relaxed);
	do
		n->next = head;
	while (!atomic_compare_exchange_weak_explicit(&r->inbox, &head, n, memory_order_seq_cst,
						      memory_order_relaxed));
	if (atomic_load_explicit(&r->sleeping, memory_order_seq_cst) &&
	    atomic_exchange_explicit(&r->sleeping, 0, memory_order_seq_cst)) {
		uint64_t one = 1;
		atomic_fetch_add_explicit(&r->kicks, 1, memory_order_relaxed);
		/* Cannot fail but for a counter at its limit, which still
		 * leaves the descriptor readable. */
		ssize_t w = write(r->efd, &one, sizeof one);
		(void)w;
	}
	atomic_fetch_sub_explicit(&r->busy, 1, memory_order_release);
}

size_t corun__remote_drain_slow(struct corun__rt *rt)
{
	struct corun__rnode *n =
		atomic_exchange_explicit(&rt->remote.inbox, NULL, memory_order_acquire);
	/* A stack: newest first. Run them oldest first. */
	struct corun__rnode *fifo = NULL;
	while (n) {
		struct corun__rnode *next = n->next;
		n->next = fifo;
		fifo = n;
		n = next;
	}
	size_t count = 0;
	while (fifo) {
		struct corun__rnode *next = fifo->next; /* run may end n's life */
		fifo->run(rt, fifo);
		fifo = next;
		count++;
	}
	rt->remote.delivered += count;
	return count;
}

int corun__remote_before_sleep(struct corun__rt *rt, int64_t timeout_ns)
{
	struct corun__remote *r = &rt->remote;
	/* Spin, reading the clock only every 64 steps; not past the nearest
	 * deadline, nor at all when there is none to wait for (timeout 0). */
	int64_t spin = timeout_ns >= 0 && timeout_ns < r->spin_ns ? timeout_ns : r->spin_ns;
	int64_t until = spin ? corun_now() + spin : 0;
	while (spin) {
		for (int i = 0; i < 64; i++) {
			if (atomic_load_explicit(&r->inbox, memory_order_relaxed))
				return corun__remote_drain_slow(rt) > 0;
			corun__cpu_relax();
		}
		if (corun_now() >= until)
			break;
	}
	/* An exchange, not a store: both order this write before the read of
	 * the inbox below (the language's seq_cst), but a store and a load are
	 * STLR and LDAR on AArch64, and under qemu-user on an x86 host the
	 * load could apparently pass the store, a push made meanwhile going
	 * unseen by both sides: test_shared's free_racing_receive slept for
	 * good within a thousand rounds there, three runs in three, and never
	 * with the exchange. An exchange is an atomic read-modify-write on
	 * every processor and emulator, and costs no more, once per sleep. */
	atomic_exchange_explicit(&r->sleeping, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&r->inbox, memory_order_seq_cst)) {
		atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
		return corun__remote_drain_slow(rt) > 0;
	}
	return 0;
}

void corun__remote_awake(struct corun__rt *rt)
{
	/* If a pusher took the flag, its write is there or coming: the
	 * descriptor stays readable until corun__remote_on_event reads it,
	 * at worst one spurious return from a later epoll_wait. */
	atomic_store_explicit(&rt->remote.sleeping, 0, memory_order_relaxed);
}

void corun__remote_on_event(struct corun__rt *rt)
{
	uint64_t v;
	ssize_t n = read(rt->remote.efd, &v, sizeof v);
	(void)n;
}

void corun__remote_fork_child(struct corun__remote *r)
{
	if (r->efd >= 0)
		close(r->efd);
	r->efd = -1;
	atomic_store_explicit(&r->busy, 0, memory_order_relaxed);
	atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
}
