/*
 * Stack overflow, reported by name. A coroutine that runs off the bottom of
 * its stack faults in the guard page below it. corun installs, once per
 * process (at the first runtime's creation), a SIGSEGV and SIGBUS handler
 * that runs on an alternate signal stack (the faulting stack has no room
 * left), chaining to whatever handler the program had before. When the
 * fault address lies in a corun guard page, it writes one line naming the
 * coroutine that was running (see report() for the cases),
 *     corun: stack overflow in coroutine <id> "<name>" (stack <N> bytes)
 * with async-signal-safe calls only, puts the signal's default action back
 * and returns: the faulting instruction runs again and the process ends as
 * it would have without corun (core dump, "killed by SIGSEGV"). Any other
 * fault goes to the previous handler, or to the default action, unchanged.
 */
#include "overflow.h"
#include "runtime.h"
#include "../arch/sigctx.h"
#include "../failpoint.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static struct sigaction prev_segv, prev_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

/* The live coroutine whose stack lies right above the guard ending at lo,
 * or NULL when that stack is pooled. Reads only memory corun keeps mapped
 * for the runtime's life. */
static struct corun__co *stack_owner(struct corun__rt *rt, const char *lo)
{
	for (uint32_t k = 0; k < rt->handles.n; k++) {
		const struct corun__slot *s = &rt->handles.slots[k];
		if (s->state == CORUN__SLOT_LIVE && s->u.co->stack.lo == lo)
			return s->u.co;
	}
	return NULL;
}

/* Async-signal-safe formatting: append s, or the decimal v, to buf. */
static size_t put_str(char *buf, size_t at, size_t cap, const char *s)
{
	while (*s && at < cap)
		buf[at++] = *s++;
	return at;
}

static size_t put_u64(char *buf, size_t at, size_t cap, uint64_t v)
{
	char digits[24];
	int n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < 24);
	while (n > 0 && at < cap)
		buf[at++] = digits[--n];
	return at;
}

static size_t put_co(char *buf, size_t at, size_t cap, struct corun__rt *rt,
		     const struct corun__co *co)
{
	at = put_str(buf, at, cap, "coroutine ");
	at = put_u64(buf, at, cap, rt->handles.slots[co->slot].serial);
	at = put_str(buf, at, cap, " \"");
	at = put_str(buf, at, cap, (co->flags & CORUN__F_NAMED) ? co->name : "");
	return put_str(buf, at, cap, "\"");
}

/* What happened, judged from where the fault hit (a guard above which lies
 * the stack [lo, lo + size), owned by `owner` or by nobody) and who ran
 * (cur; NULL for main) with which stack pointer (NULL where the ABI's
 * signal context is unknown to src/arch/sigctx.h). The running coroutine has
 * overflowed when the fault hit its own guard, or when its stack pointer is
 * below its stack: a frame larger than the guard (compiled without
 * -fstack-clash-protection) skips its own guard and may land in the guard
 * of the stack below, whose owner is innocent. Any other touch of a guard
 * is a stray pointer, reported as such. */
static void report(struct corun__rt *rt, const struct corun__co *cur, const char *sp,
		   const struct corun__co *owner, const char *lo, size_t size)
{
	char line[320];
	size_t n = 0, cap = sizeof line - 1;
	int own = cur && cur->stack.lo == lo;
	int below = sp && cur && sp < cur->stack.lo; /* sp: NULL where unknown */
	if (cur && (own || below)) {
		n = put_str(line, n, cap, "corun: stack overflow in ");
		n = put_co(line, n, cap, rt, cur);
		n = put_str(line, n, cap, " (stack ");
		n = put_u64(line, n, cap, cur->stack.size);
		n = put_str(line, n, cap, " bytes)");
		if (!own) {
			n = put_str(line, n, cap, ", into the guard page of ");
			n = owner ? put_co(line, n, cap, rt, owner)
				  : put_str(line, n, cap, "an unused stack");
		}
	} else {
		n = put_str(line, n, cap, "corun: fault in the guard page of ");
		n = owner ? put_co(line, n, cap, rt, owner)
			  : put_str(line, n, cap, "an unused stack");
		n = put_str(line, n, cap, " (stack ");
		n = put_u64(line, n, cap, size);
		n = put_str(line, n, cap, " bytes), by ");
		n = cur ? put_co(line, n, cap, rt, cur) : put_str(line, n, cap, "main");
	}
	n = put_str(line, n, cap, "\n");
	ssize_t unused = write(STDERR_FILENO, line, n);
	(void)unused;
}

static void restore_default(int sig)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct corun__rt *rt = corun__tls;
	/* Only a real fault (si_code > 0) has an address to judge. */
	char *lo;
	size_t size;
	if (rt && si->si_code > 0 && corun__stack_guard_of(&rt->stacks, si->si_addr, &lo, &size)) {
		struct corun__co *cur = rt->current == &rt->main ? NULL : rt->current;
		struct corun__co *owner = cur && cur->stack.lo == lo ? cur : stack_owner(rt, lo);
		report(rt, cur, CORUN__SIGNAL_SP(uc), owner, lo, size);
		restore_default(sig);
		errno = saved;
		return; /* the instruction faults again, now fatally */
	}
	const struct sigaction *p = sig == SIGBUS ? &prev_bus : &prev_segv;
	if (p->sa_flags & SA_SIGINFO) {
		p->sa_sigaction(sig, si, uc);
	} else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
		p->sa_handler(sig);
	} else {
		/* What the kernel would have done: a fault cannot be ignored. A
		 * real fault repeats when we return; a sent signal is sent again. */
		restore_default(sig);
		if (si->si_code <= 0)
			raise(sig);
	}
	errno = saved;
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &prev_segv);
	sigaction(SIGBUS, &sa, &prev_bus);
}

/* The alternate signal stack: the overflowing stack has no room left for
 * the handler. Each thread needs its own; one the program set up itself is
 * left alone. */
#define ALTSTACK_SIZE ((size_t)64 << 10)

void corun__overflow_init(struct corun__rt *rt)
{
	pthread_once(&install_once, install);
	stack_t old;
	if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
		return;
	void *p = corun__mmap(CORUN__FAIL_ALTSTACK, NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return; /* overflows then die unreported, still by SIGSEGV */
	stack_t ss = { .ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) == 0)
		rt->overflow.altstack = p;
	else
		munmap(p, ALTSTACK_SIZE);
}

void corun__overflow_fini(struct corun__rt *rt)
{
	if (!rt->overflow.altstack)
		return;
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == rt->overflow.altstack) {
		stack_t off = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
		sigaltstack(&off, NULL);
	}
	munmap(rt->overflow.altstack, ALTSTACK_SIZE);
	rt->overflow.altstack = NULL;
}
