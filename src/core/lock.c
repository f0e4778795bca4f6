/*
 * The shared objects' lock (lock.h): the contended half.
 */
#include "lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Spins before sleeping: a hold is tens of nanoseconds, a spin step about
 * one, and the kernel's round trip tens of microseconds. */
#define SPINS 200

void corun__lock_slow(struct corun__lock *l)
{
	for (int i = 0; i < SPINS; i++) {
		corun__cpu_relax();
		uint32_t free_ = 0;
		if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->v, &free_, 1, memory_order_acquire,
							  memory_order_relaxed))
			return;
	}
	/* Mark it contended as we take it or before we sleep, so that the
	 * holder's unlock wakes someone. */
	while (atomic_exchange_explicit(&l->v, 2, memory_order_acquire) != 0)
		syscall(SYS_futex, &l->v, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

void corun__unlock_wake(struct corun__lock *l)
{
	syscall(SYS_futex, &l->v, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
