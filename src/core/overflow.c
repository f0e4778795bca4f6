/*
 * Stack overflow, reported by name. A coroutine that runs off the bottom of
 * its stack faults in the guard page below it. corun installs, once per
 * process (at the first runtime's creation), a SIGSEGV and SIGBUS handler
 * that runs on an alternate signal stack (the faulting stack has no room
 * left), chaining to whatever handler the program had before. When the
 * fault address lies in a corun guard page, it writes one line,
 *     corun: stack overflow in coroutine <id> "<name>" (stack <N> bytes)
 * with async-signal-safe calls only, puts the signal's default action back
 * and returns: the faulting instruction runs again and the process ends as
 * it would have without corun (core dump, "killed by SIGSEGV"). Any other
 * fault goes to the previous handler, or to the default action, unchanged.
 */
#include "runtime.h"
#include "failpoint.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct sigaction prev_segv, prev_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;

/* The record of the coroutine whose guard page holds addr, or NULL; *size
 * is set to the stack's size whenever addr is in a guard at all. Reads
 * only memory corun keeps mapped for the runtime's life. */
static struct corun__co *guard_owner(struct corun__rt *rt, const char *addr, size_t *size,
				     int *in_guard)
{
	size_t page = rt->stacks.page;
	struct corun__co *cur = rt->current;
	*in_guard = 0;
	/* Almost always: the running coroutine ran off its own stack. */
	if (cur != &rt->main && addr < cur->stack.lo && addr >= cur->stack.lo - page) {
		*in_guard = 1;
		*size = cur->stack.size;
		return cur;
	}
	/* Otherwise, some other stack's guard (a stray pointer). */
	for (size_t i = 0; i < rt->stacks.nslabs; i++) {
		const struct corun__slab *sl = &rt->stacks.slabs[i];
		const char *base = sl->base;
		if (addr < base || addr >= base + sl->len)
			continue;
		size_t slot = sl->stack_size + page;
		const char *start = base + (size_t)(addr - base) / slot * slot;
		if (addr >= start + page)
			return NULL; /* inside a stack, not a guard */
		*in_guard = 1;
		*size = sl->stack_size;
		const char *lo = start + page;
		for (uint32_t k = 0; k < rt->handles.n; k++) {
			const struct corun__slot *s = &rt->handles.slots[k];
			if (s->state == CORUN__SLOT_LIVE && s->u.co->stack.lo == lo)
				return s->u.co;
		}
		return NULL;
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

static void report(struct corun__rt *rt, struct corun__co *co, size_t size)
{
	char line[160];
	size_t n = 0, cap = sizeof line - 1;
	if (co) {
		n = put_str(line, n, cap, "corun: stack overflow in coroutine ");
		n = put_u64(line, n, cap, rt->handles.slots[co->slot].serial);
		n = put_str(line, n, cap, " \"");
		n = put_str(line, n, cap, (co->flags & CORUN__F_NAMED) ? co->name : "");
		n = put_str(line, n, cap, "\" (stack ");
	} else {
		n = put_str(line, n, cap, "corun: fault in the guard page of an unused stack (stack ");
	}
	n = put_u64(line, n, cap, size);
	n = put_str(line, n, cap, " bytes)\n");
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
	if (rt && si->si_code > 0) {
		size_t size = 0;
		int in_guard;
		struct corun__co *co = guard_owner(rt, si->si_addr, &size, &in_guard);
		if (in_guard) {
			report(rt, co, size);
			restore_default(sig);
			errno = saved;
			return; /* the instruction faults again, now fatally */
		}
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
		rt->altstack = p;
	else
		munmap(p, ALTSTACK_SIZE);
}

void corun__overflow_fini(struct corun__rt *rt)
{
	if (!rt->altstack)
		return;
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == rt->altstack) {
		stack_t off = { .ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE };
		sigaltstack(&off, NULL);
	}
	munmap(rt->altstack, ALTSTACK_SIZE);
	rt->altstack = NULL;
}
