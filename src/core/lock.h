/*
 * The lock of an object shared between threads (shared.h): a word taken
 * with one compare-and-swap, held for a few dozen instructions (a copy, a
 * queue operation), never across a wait or a system call but the futex one
 * below.
 *
 * Why not a pthread mutex: the same one atomic when free, but glibc's does
 * not spin before it sleeps, and on these machines a thread put to sleep
 * takes ~37 µs to wake against a hold time of tens of nanoseconds. Why not
 * a plain spinlock: a holder preempted by the kernel would leave the others
 * spinning for a whole time slice. So: spin a little, then sleep on the
 * futex (Drepper's "Futexes are tricky", mutex 2: 0 free, 1 held, 2 held
 * with sleepers, so that an unlock makes a system call only when someone
 * sleeps).
 */
#ifndef CORUN_LOCK_H
#define CORUN_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

struct corun__lock {
	_Atomic uint32_t v;
};

void corun__lock_slow(struct corun__lock *l);
void corun__unlock_wake(struct corun__lock *l);

static inline void corun__lock(struct corun__lock *l)
{
	uint32_t free_ = 0;
	if (__builtin_expect(!atomic_compare_exchange_weak_explicit(&l->v, &free_, 1,
								     memory_order_acquire,
								     memory_order_relaxed),
			     0))
		corun__lock_slow(l);
}

static inline void corun__unlock(struct corun__lock *l)
{
	if (__builtin_expect(atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2, 0))
		corun__unlock_wake(l);
}

/* The owner id that marks a shared object (runtime ids start at 1). */
#define CORUN__SHARED 0

/* The part of every object shared between threads that the wait core
 * needs (shared.h): its lock, and what keeps it alive for its waiters. */
struct corun__shobj {
	struct corun__lock lock;
	uint32_t waiters;  /* swaits armed on it and not withdrawn yet */
	uint8_t freed;     /* its free was called: the last withdraw frees it */
	void *mem;         /* what to free() then */
};

/* One spin-wait step: tell the CPU (and a sibling hyperthread) we spin. */
static inline void corun__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif
