/*
 * Baselines that every Debian machine has: glibc's ucontext and POSIX
 * threads handing off through a futex.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define STACK (64 << 10)

static char *stack_once(void)
{
	static char *stk;
	if (!stk) {
		stk = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (stk == MAP_FAILED)
			abort();
	}
	return stk;
}

/* ---- swapcontext ping-pong */
static ucontext_t uc_main, uc_co;

/* getcontext "returns twice" in the compiler's eyes; kept out of the timed
 * loops' frames, it cannot make their variables volatile. The context it
 * saves is never resumed: makecontext replaces where it goes. */
static __attribute__((noinline)) void prepare(void (*fn)(void), ucontext_t *link)
{
	if (getcontext(&uc_co) < 0)
		abort();
	uc_co.uc_stack.ss_sp = stack_once();
	uc_co.uc_stack.ss_size = STACK;
	uc_co.uc_link = link;
	makecontext(&uc_co, fn, 0);
}

static void uc_body(void)
{
	for (;;)
		swapcontext(&uc_co, &uc_main);
}

void bench_ucontext_switch(struct samples *out)
{
	for (int t = 0; t < cfg.trials; t++) {
		long n = iters(1000000);
		prepare(uc_body, NULL);
		swapcontext(&uc_main, &uc_co);
		double t0 = now_ns();
		for (long i = 0; i < n; i++)
			swapcontext(&uc_main, &uc_co);
		add_sample(out, (now_ns() - t0) / (2.0 * (double)n));
	}
}

/* ---- makecontext on a pooled stack, run to its end (uc_link back) */
static volatile long uc_sink;
static void uc_trivial(void)
{
	uc_sink++;
}

void bench_ucontext_spawn(struct samples *out)
{
	for (int t = 0; t < cfg.trials; t++) {
		long n = iters(200000);
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			prepare(uc_trivial, &uc_main);
			swapcontext(&uc_main, &uc_co);
		}
		add_sample(out, (now_ns() - t0) / (double)n);
	}
}

/* ---- two threads on one CPU, handing a turn back and forth */
static _Atomic int turn;
static long handoffs;

static void wait_turn(int me)
{
	while (atomic_load_explicit(&turn, memory_order_acquire) != me)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, 1 - me, NULL, NULL, 0);
}

static void give_turn(int to)
{
	atomic_store_explicit(&turn, to, memory_order_release);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *other_thread(void *arg)
{
	(void)arg;
	for (long i = 0; i < handoffs; i++) {
		wait_turn(1);
		give_turn(0);
	}
	return NULL;
}

void bench_pthread_switch(struct samples *out)
{
	for (int t = 0; t < cfg.trials; t++) {
		pthread_t th;
		handoffs = iters(100000);
		atomic_store(&turn, 0);
		if (pthread_create(&th, NULL, other_thread, NULL) != 0)
			abort();
		double t0 = now_ns();
		for (long i = 0; i < handoffs; i++) {
			give_turn(1);
			wait_turn(0);
		}
		double t1 = now_ns();
		pthread_join(th, NULL);
		add_sample(out, (t1 - t0) / (2.0 * (double)handoffs));
	}
}

void bench_calibrate(struct samples *out)
{
	for (int t = 0; t < cfg.trials; t++) {
		long n = iters(50000000);
		unsigned long a = 1, b = 2, c = 3, d = 4, e = 5, f = 6;
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			a += 1, b += 2, c += 3, d += 4, e += 5, f += 6;
			/* Opaque to the compiler: the adds stay, one each. */
			__asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f));
		}
		add_sample(out, (now_ns() - t0) / (double)n);
	}
}
