/*
 * corun context switch: the portable fallback, on POSIX ucontext
 * (makecontext/swapcontext). CMake picks it for a processor src/arch/ has
 * no assembly switch for, or when asked (-DCORUN_SWITCH=ucontext).
 *
 * What it costs, and why the assembly switches exist: swapcontext saves
 * and restores every register, the floating-point environment and the
 * signal mask, and the mask takes a system call (rt_sigprocmask) on every
 * switch, and getcontext one on every spawn.
 *
 * What it keeps of the assembly switches' contract
 *   A context suspended by corun__ctx_switch is the address of a frame on
 *   its own stack (a local of the suspended call), as with the assembly
 *   switches; the carried int is written into that frame by whoever resumes
 *   it. The floating-point environment is handed over the same way: a
 *   register-only switch leaves the FP control and status registers alone,
 *   so the side resumed runs on with the environment the side leaving had
 *   (the scheduler has already loaded the one it wants, src/core/fpctl.h),
 *   and exception flags stay the thread's. swapcontext instead restores
 *   each context's own environment (glibc does), so the resumed side puts
 *   the handed-over one back.
 *   What it does not keep: the signal mask becomes each context's own (a
 *   coroutine starts with the mask its spawner had at the spawn).
 */
#include "../switch.h"

#include <stdint.h>
#include <stdlib.h>

/* corun__ctx_exit's fn and arg, for the context it resumes to call first:
 * setcontext cannot call anything on the stack it goes to, so the resumed
 * side does, where it comes back from swapcontext or starts. */
static __thread void (*exit_fn)(void *);
static __thread void *exit_arg;

static void run_exit_fn(void)
{
	void (*fn)(void *) = exit_fn;
	if (fn) {
		exit_fn = NULL;
		fn(exit_arg);
	}
}

/* makecontext passes int arguments only: the frame's address in two. */
static void start(unsigned hi, unsigned lo)
{
	struct corun__uframe *f =
		(struct corun__uframe *)(uintptr_t)(((uint64_t)hi << 32) | lo);
	fesetenv(&f->fe);
	run_exit_fn();
	f->entry(f->arg);
	abort(); /* entry must not return */
}

void *corun__ctx_make(void *top, void (*entry)(void *), void *arg, size_t size)
{
	struct corun__uframe *f = (struct corun__uframe *)((char *)top - CORUN__CTX_FRAME);
	if (getcontext(&f->uc) != 0) /* Linux: cannot fail */
		abort();
	f->uc.uc_link = NULL;
	f->uc.uc_stack.ss_sp = (char *)top - size;
	f->uc.uc_stack.ss_size = size - CORUN__CTX_FRAME; /* below the frame */
	f->entry = entry;
	f->arg = arg;
	uint64_t p = (uint64_t)(uintptr_t)f;
	makecontext(&f->uc, (void (*)(void))start, 2, (unsigned)(p >> 32), (unsigned)p);
	return f;
}

int corun__ctx_switch(void **save, void *to, int carry)
{
	struct corun__uframe self, *next = to;
	/* Read by AddressSanitizer's swapcontext interceptor when this frame
	 * is resumed (it clears the shadow of the stack named there): none. */
	self.uc.uc_stack.ss_sp = NULL;
	self.uc.uc_stack.ss_size = 0;
	next->carry = carry;
	fegetenv(&next->fe);
	*save = &self;
	if (swapcontext(&self.uc, &next->uc) != 0) /* Linux: cannot fail */
		abort();
	fesetenv(&self.fe);
	run_exit_fn();
	return self.carry;
}

void corun__ctx_exit(void *to, void (*fn)(void *), void *arg)
{
	struct corun__uframe *next = to;
	next->carry = 0;
	fegetenv(&next->fe);
	exit_fn = fn;
	exit_arg = arg;
	setcontext(&next->uc); /* Linux: does not return */
	abort();
}
