/*
 * Death tests: a stack overflow is reported by name and ends the process by
 * SIGSEGV, as it would end without corun; any other fault is left alone.
 * Each case runs in a child process; the parent checks what the child wrote
 * to stderr and how it died. CTest runs this program again with
 * CORUN_GUARD=mprotect.
 */
#define _GNU_SOURCE
#include "check.h"

#include "../src/core/runtime.h" /* white box: where the running stack lies */

#include <corun.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>


int clash_frame(size_t n); /* overflow_clash.c, with -fstack-clash-protection */
int skip_frame(size_t n);  /* overflow_skip.c, without */

struct death {
	int signaled, sig, exited, code;
	char err[4096]; /* the child's stderr */
	char expect[256]; /* what the child said the message must be */
};

static int expect_fd = -1;

/* Run fn in a child; collect its stderr and what it wrote to expect_fd. */
static struct death run_child(void (*fn)(void))
{
	struct death d;
	memset(&d, 0, sizeof d);
	int err[2], exp[2];
	CHECK_EQ(pipe(err), 0);
	CHECK_EQ(pipe(exp), 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(err[0]);
		close(exp[0]);
		dup2(err[1], STDERR_FILENO);
		expect_fd = exp[1];
		fn();
		_exit(0); /* survived: the parent fails it */
	}
	close(err[1]);
	close(exp[1]);
	size_t n = 0;
	ssize_t r;
	while (n < sizeof d.err - 1 && (r = read(err[0], d.err + n, sizeof d.err - 1 - n)) > 0)
		n += (size_t)r;
	n = 0;
	while (n < sizeof d.expect - 1 && (r = read(exp[0], d.expect + n, sizeof d.expect - 1 - n)) > 0)
		n += (size_t)r;
	close(err[0]);
	close(exp[0]);
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	d.signaled = WIFSIGNALED(status);
	d.sig = d.signaled ? WTERMSIG(status) : 0;
	d.exited = WIFEXITED(status);
	d.code = d.exited ? WEXITSTATUS(status) : -1;
	return d;
}

/* In the child: say what the message must be, for coroutine h of size n. */
static void expect_overflow(corun_t h, const char *name, size_t n)
{
	char line[256];
	int len = snprintf(line, sizeof line, "corun: stack overflow in coroutine %lld \"%s\" (stack %zu bytes)\n",
			   (long long)corun_id(h), name, n);
	CHECK(write(expect_fd, line, (size_t)len) == len);
	close(expect_fd);
}

static void *bystander(void *arg)
{
	corun_park();
	return arg;
}

static void spawn_and_run(corun_fn fn, const char *name, size_t size)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = size;
	a.name = name;
	/* A bystander first, so the overflowing one is not the only stack. */
	CHECK(corun_go(bystander, NULL) > 0);
	corun_t h = corun_go_attr(fn, NULL, &a);
	CHECK(h > 0);
	if (name)
		expect_overflow(h, name, size);
	corun_run();
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

/* A frame that skips its own guard and the whole stack below it, and
 * stores into the guard of that stack: the report must still blame this
 * coroutine, and say whose guard it hit. */
static void *skipping_frame(void *arg)
{
	(void)arg;
	const struct corun__stack *st = &corun__tls->current->stack;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	const char *target = st->lo - page - st->size - page / 2;
	const char *here = __builtin_frame_address(0);
	return (void *)(intptr_t)skip_frame((size_t)(here - target));
}

/* A stray store into the guard of the stack above this one (the next slot
 * carved), with the stack pointer where it belongs: not an overflow. */
static void *stray_store(void *arg)
{
	(void)arg;
	const struct corun__stack *st = &corun__tls->current->stack;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	volatile char *p = st->lo + st->size + page / 2;
	*p = 1;
	return NULL;
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
	volatile char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
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
static void child_null(void)
{
	spawn_and_run(null_deref, NULL, CORUN_STACK_MIN);
}
static void child_sent(void)
{
	spawn_and_run(sent_segv, NULL, CORUN_STACK_MIN);
}

/* The stack below the culprit's belongs to "innocent", spawned just
 * before it (the slab is carved upwards), or to nobody yet. */
static void child_skip(void)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = CORUN_STACK_MIN;
	a.name = "innocent";
	corun_t innocent = corun_go_attr(bystander, NULL, &a);
	CHECK(innocent > 0);
	a.name = "culprit";
	corun_t culprit = corun_go_attr(skipping_frame, NULL, &a);
	CHECK(culprit > 0);
	char line[256];
	int len = snprintf(line, sizeof line,
			   "corun: stack overflow in coroutine %lld \"culprit\" (stack %zu bytes), "
			   "into the guard page of coroutine %lld \"innocent\"\n",
			   (long long)corun_id(culprit), CORUN_STACK_MIN, (long long)corun_id(innocent));
	CHECK(write(expect_fd, line, (size_t)len) == len);
	close(expect_fd);
	corun_run();
}

static void child_stray(void)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = CORUN_STACK_MIN;
	a.name = "stray";
	corun_t stray = corun_go_attr(stray_store, NULL, &a);
	CHECK(stray > 0);
	a.name = "victim";
	corun_t victim = corun_go_attr(bystander, NULL, &a);
	CHECK(victim > 0);
	char line[256];
	int len = snprintf(line, sizeof line,
			   "corun: fault in the guard page of coroutine %lld \"victim\" (stack %zu bytes), "
			   "by coroutine %lld \"stray\"\n",
			   (long long)corun_id(victim), CORUN_STACK_MIN, (long long)corun_id(stray));
	CHECK(write(expect_fd, line, (size_t)len) == len);
	close(expect_fd);
	corun_run();
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

static void install_own(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = own_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK_EQ(sigaction(SIGSEGV, &sa, NULL), 0);
}

static void child_own_then_wild(void)
{
	install_own(); /* before corun's, which chains to it */
	spawn_and_run(wild_access, NULL, CORUN_STACK_MIN);
}
static void child_own_then_overflow(void)
{
	install_own();
	spawn_and_run(deep_recursion, "deep", CORUN_STACK_MIN);
}

/* A fault that is not an overflow goes to the handler that was there
 * before corun's: the default action, or under a sanitizer, the
 * sanitizer's, which reports it and exits with a status (UBSan may catch a
 * null load even before it faults). */

static void check_not_overflow(const struct death *d)
{
	CHECK(!strstr(d->err, "stack overflow"));
#ifdef UNDER_SANITIZER
	CHECK(strstr(d->err, "Sanitizer") != NULL); /* ASan, or UBSan first */
	CHECK(d->exited);
	CHECK(d->code != 0);
#else
	CHECK(d->signaled);
	CHECK_EQ(d->sig, SIGSEGV);
#endif
}

static void check_overflow(const struct death *d)
{
	CHECK(d->expect[0] != '\0');
	if (!strstr(d->err, d->expect))
		CHECK_FAIL("expected on stderr: %sgot: %s", d->expect, d->err);
	CHECK(d->signaled);
	CHECK_EQ(d->sig, SIGSEGV);
}

int main(void)
{
	struct death d;

	fprintf(stderr, "-- overflow by deep recursion\n");
	d = run_child(child_recursion);
	check_overflow(&d);

	fprintf(stderr, "-- overflow by one large local array\n");
	d = run_child(child_large_local);
	check_overflow(&d);

	fprintf(stderr, "-- a frame larger than the guard, with stack-clash probes\n");
	d = run_child(child_probed);
	check_overflow(&d);

	fprintf(stderr, "-- a frame that skips its guard into the next stack's: the culprit is named\n");
	d = run_child(child_skip);
	check_overflow(&d);

	fprintf(stderr, "-- a stray store into another stack's guard is named as such\n");
	d = run_child(child_stray);
	check_overflow(&d);

	fprintf(stderr, "-- a null dereference is not an overflow\n");
	d = run_child(child_null);
	check_not_overflow(&d);

	fprintf(stderr, "-- a SIGSEGV sent, not faulted, still ends the process\n");
	d = run_child(child_sent);
	check_not_overflow(&d);

	fprintf(stderr, "-- the program's own handler gets the faults that are not overflows\n");
	d = run_child(child_own_then_wild);
	CHECK(strstr(d.err, "own handler ran") != NULL);
	CHECK(!strstr(d.err, "stack overflow"));
	CHECK(d.exited);
	/* memcheck rightly counts the wild write as an error, and then exits
	 * with its own --error-exitcode instead. */
	if (!RUNNING_ON_VALGRIND)
		CHECK_EQ(d.code, 42);

	fprintf(stderr, "-- ... and corun still reports an overflow\n");
	d = run_child(child_own_then_overflow);
	check_overflow(&d);
	CHECK(!strstr(d.err, "own handler ran"));
	return 0;
}
