/*
 * Death tests: a stack overflow is reported by name and ends the process by
 * SIGSEGV, as it would end without corun; any other fault is left alone.
 * Each case runs in a child process; the parent checks what the child wrote
 * to stderr and how it died. CTest runs this program again with
 * CORUN_GUARD=mprotect.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include "priv.h" /* white box: where the running stack lies */

#include <corun.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

int clash_frame(size_t n);     /* overflow_clash.c, with -fstack-clash-protection */
int clash_mid_frame(size_t n); /* likewise */
int skip_frame(size_t n);      /* overflow_skip.c, without */

/* In the child: tell the parent what the message must be, for coroutine h
 * of size n (only the child knows h's id). */
static void expect_overflow(corun_t h, const char *name, size_t n)
{
	char line[256];
	snprintf(line, sizeof line, "corun: stack overflow in coroutine %lld \"%s\" (stack %zu bytes)\n",
		 (long long)corun_id(h), name, n);
	child_report(line);
}

static corun_t spawn_named(corun_fn fn, const char *name)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = CORUN_STACK_MIN;
	a.name = name;
	corun_t h = corun_go_attr(fn, NULL, &a);
	CHECK(h > 0);
	return h;
}

static void spawn_and_run(corun_fn fn, const char *name, size_t size)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = size;
	a.name = name;
	/* A bystander first, so the overflowing one is not the only stack. */
	CHECK(corun_go(park_once, NULL) > 0);
	corun_t h = corun_go_attr(fn, NULL, &a);
	CHECK(h > 0);
	if (name)
		expect_overflow(h, name, size);
	corun_run();
}

/* In the child: tell the parent the line to expect, fmt filled with the
 * ids of two coroutines and the stack size. */
static void expect_line(const char *fmt, corun_t first, corun_t second)
{
	char line[256];
	snprintf(line, sizeof line, fmt, (long long)corun_id(first), CORUN_STACK_MIN,
		 (long long)corun_id(second));
	child_report(line);
}

/* ---- the bodies */
static int (*volatile again)(int);
static int recurse(int n)
{
	volatile char pad[256];
	pad[0] = (char)n;
	return again(n + 1) + pad[0];
}

static void *deep_recursion(void *arg)
{
	(void)arg;
	again = recurse;
	return (void *)(intptr_t)recurse(0);
}

static void write_lowest(volatile char *p)
{
	p[0] = 1;
}
static void (*volatile write_lowest_p)(volatile char *) = write_lowest;

static void *large_local(void *arg)
{
	(void)arg;
	volatile char buf[CORUN_STACK_MIN]; /* as large as the stack itself */
	buf[sizeof buf - 1] = 0;
	write_lowest_p(buf);
	return (void *)(intptr_t)buf[sizeof buf - 1];
}

static void *probed_frame(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)clash_frame(7);
}

static void *mid_frame(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)clash_mid_frame(0);
}

static int *volatile nowhere;
static void *null_deref(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)*nowhere;
}

/* A wild access: a page that is mapped but forbidden. Not a guard, and
 * not something a sanitizer catches before the hardware does. */
static void *wild_access(void *arg)
{
	(void)arg;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	volatile char *p = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 1;
	return NULL;
}

static void *sent_segv(void *arg)
{
	(void)arg;
	kill(getpid(), SIGSEGV); /* a signal, not a fault */
	return NULL;
}

/* A frame that skips its own guard and the whole stack below it, and
 * stores into the guard of that stack: the report must still blame this
 * coroutine, and say whose guard it hit. */
static void *skipping_frame(void *arg)
{
	(void)arg;
	size_t size, guard = corun_priv_guard();
	const char *lo = corun_priv_stack(corun_self(), &size);
	const char *target = lo - guard - size - guard / 2;
	const char *here = __builtin_frame_address(0);
	return (void *)(intptr_t)skip_frame((size_t)(here - target));
}

/* A stray store into the guard of the stack above this one (the next slot
 * carved), with the stack pointer where it belongs: not an overflow. */
static void *stray_store(void *arg)
{
	(void)arg;
	size_t size;
	char *lo = corun_priv_stack(corun_self(), &size);
	volatile char *p = lo + size + corun_priv_guard() / 2;
	/* Natively the first store faults again once corun's handler has
	 * reported it and returned, now fatally. Under valgrind a store into an
	 * MADV_GUARD_INSTALL guard (memory valgrind believes mapped) may go on
	 * past the store after the handler returns, as it did when the address
	 * came from calls: the loop makes it fault again there too. */
	for (;;)
		*p = 1;
	return NULL; /* not reached */
}

/* ---- the cases */
static void child_recursion(void)
{
	spawn_and_run(deep_recursion, "deep", CORUN_STACK_MIN);
}
static void child_large_local(void)
{
	spawn_and_run(large_local, "big", CORUN_STACK_MIN);
}
static void child_probed(void)
{
	spawn_and_run(probed_frame, "probed", 64 << 10);
}
static void child_mid(void)
{
	spawn_and_run(mid_frame, "mid", CORUN_STACK_MIN);
}
static void child_null(void)
{
	spawn_and_run(null_deref, NULL, CORUN_STACK_MIN);
}
static void child_sent(void)
{
	spawn_and_run(sent_segv, NULL, CORUN_STACK_MIN);
}

static void own_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	static const char msg[] = "own handler ran\n";
	ssize_t unused = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)unused;
	_exit(si->si_code > 0 ? 42 : 43); /* a fault reached it */
}

static void child_own_then_wild(void)
{
	install_segv_handler(own_handler); /* before corun's, which chains to it */
	spawn_and_run(wild_access, NULL, CORUN_STACK_MIN);
}
/* Two coroutines on neighbouring stacks (slabs are carved upwards: the one
 * spawned first lies below), then the line to expect: fmt with the upper
 * one's id, the stack size, and the lower one's id. */
static void pair_and_run(corun_fn lower_fn, const char *lower, corun_fn upper_fn,
			 const char *upper, const char *fmt)
{
	corun_t lo = spawn_named(lower_fn, lower);
	corun_t up = spawn_named(upper_fn, upper);
	expect_line(fmt, up, lo);
	corun_run();
}

static void child_skip(void)
{
	pair_and_run(park_once, "innocent", skipping_frame, "culprit",
		     "corun: stack overflow in coroutine %lld \"culprit\" (stack %zu bytes), "
		     "into the guard page of coroutine %lld \"innocent\"\n");
}

static void child_stray(void)
{
	pair_and_run(stray_store, "stray", park_once, "victim",
		     "corun: fault in the guard page of coroutine %lld \"victim\" (stack %zu bytes), "
		     "by coroutine %lld \"stray\"\n");
}

static void child_own_then_overflow(void)
{
	install_segv_handler(own_handler);
	spawn_and_run(deep_recursion, "deep", CORUN_STACK_MIN);
}

/* A fault that is not an overflow goes to the handler that was there
 * before corun's: the default action, or under a sanitizer, the
 * sanitizer's, which reports it and exits with a status (UBSan may catch a
 * null load even before it faults). */
static void check_not_overflow(void (*child)(void))
{
	struct child d;
	run_child(&d, child);
	CHECK(!strstr(d.err, "stack overflow"));
#ifdef UNDER_SANITIZER
	CHECK(strstr(d.err, "Sanitizer") != NULL); /* ASan, or UBSan first */
	CHECK(d.exited);
	CHECK(d.code != 0);
#else
	CHECK(d.signaled);
	CHECK_EQ(d.sig, SIGSEGV);
#endif
}

/* The child reports the overflow (and, unless absent is NULL, does not
 * write absent), then dies of SIGSEGV. */
static void check_overflow(void (*child)(void), const char *absent)
{
	struct child d;
	run_child(&d, child);
	CHECK(d.report[0] != '\0');
	if (!strstr(d.err, d.report))
		CHECK_FAIL("expected on stderr: %sgot: %s", d.report, d.err);
	if (absent && strstr(d.err, absent))
		CHECK_FAIL("not expected on stderr: %s\ngot: %s", absent, d.err);
	CHECK(d.signaled);
	CHECK_EQ(d.sig, SIGSEGV);
}

/* ---- the tests */
static void deep_recursion_overflows(void)
{
	check_overflow(child_recursion, NULL);
}

static void large_local_overflows(void)
{
	check_overflow(child_large_local, NULL);
}

/* A frame larger than the guard, with stack-clash probes. */
static void probed_frame_overflows(void)
{
#ifdef CORUN_TEST_NO_CLASH_PROBES
	fprintf(stderr, "   skipped: this compiler emits no stack-clash probes here\n");
	return;
#endif
	check_overflow(child_probed, NULL);
}

/* A frame of 48 KiB on a 16 KiB stack, compiled with the compiler's default
 * probes: GCC for AArch64 probes none of it, and its first store lands
 * some 32 KiB below the stack, past a one-page guard, in the guard that
 * AArch64 stacks have (stack.h). */
static void mid_frame_overflows(void)
{
#ifdef CORUN_TEST_NO_CLASH_PROBES
	fprintf(stderr, "   skipped: this compiler emits no stack-clash probes here\n");
	return;
#endif
	check_overflow(child_mid, NULL);
}

/* A frame larger than the guard, without probes, skips into the guard of
 * the stack below: the running coroutine is still the one named. */
static void skipping_frame_blames_runner(void)
{
	check_overflow(child_skip, NULL);
}

/* A stray store into another stack's guard is named as such. */
static void stray_store_named(void)
{
	check_overflow(child_stray, "stack overflow");
}

static void null_is_not_overflow(void)
{
	check_not_overflow(child_null);
}

/* A SIGSEGV sent, not faulted, still ends the process. */
static void sent_segv_is_not_overflow(void)
{
	check_not_overflow(child_sent);
}

/* The program's own handler gets the faults that are not overflows... */
static void own_handler_gets_wild_access(void)
{
	struct child d;
	run_child(&d, child_own_then_wild);
	CHECK(strstr(d.err, "own handler ran") != NULL);
	CHECK(!strstr(d.err, "stack overflow"));
	CHECK(d.exited);
	/* memcheck rightly counts the wild write as an error, and then exits
	 * with its own --error-exitcode instead. */
	if (!RUNNING_ON_VALGRIND)
		CHECK_EQ(d.code, 42);
}

/* ... and corun still reports an overflow. */
static void own_handler_overflow_reported(void)
{
	check_overflow(child_own_then_overflow, "own handler ran");
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(deep_recursion_overflows), TEST(large_local_overflows),
		TEST(probed_frame_overflows), TEST(mid_frame_overflows),
		TEST(skipping_frame_blames_runner),
		TEST(stray_store_named), TEST(null_is_not_overflow),
		TEST(sent_segv_is_not_overflow), TEST(own_handler_gets_wild_access),
		TEST(own_handler_overflow_reported),
	};
	return RUN_TESTS(argc, argv, tests);
}
