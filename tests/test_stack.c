/*
 * Stacks: size limits and rounding, the guard page really faults (also with
 * the mprotect fallback: CTest runs this program a second time with
 * CORUN_GUARD=mprotect), pooled stacks are reused, old ones give their
 * pages back, and running out of memory or mappings is an error return
 * after which everything still works. (What an overflow does is
 * test_overflow.c's.)
 */
#define _GNU_SOURCE
#include "check.h"

#include <corun.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/core/runtime.h" /* white box: stacks, pool, guard kind */

static size_t page;

static struct corun__co *me(void)
{
	return corun__tls->current;
}

static void *ret_null(void *arg)
{
	(void)arg;
	return NULL;
}

/* ---- the whole requested size is usable, rounded up to pages */
/* A frame of n bytes, every page of it written: n bytes of stack work. */
static __attribute__((noinline)) int touch_down(size_t n)
{
	volatile char buf[n];
	for (size_t i = 0; i < n; i += 1024)
		buf[i] = 1;
	buf[n - 1] = 1;
	return buf[0] + buf[n - 1];
}

static void *use_stack(void *arg)
{
	size_t want = (size_t)(uintptr_t)arg;
	struct corun__stack st = me()->stack;
	CHECK(st.size >= want);
	CHECK_EQ(st.size % page, 0);
	CHECK_EQ(st.size - want < page, 1);
	/* All of it but 8 KiB (the record, this frame and, under ASan, its
	 * redzones) holds one frame. */
	CHECK_EQ(touch_down(want - 8192), 2);
	return NULL;
}

static void sizes(void)
{
	corun_attr a;
	CHECK_EQ(corun_attr_init(&a), 0);
	CHECK_EQ(a.stack_size, CORUN_STACK_DEFAULT);
	size_t ok[] = { CORUN_STACK_MIN, CORUN_STACK_MIN + 1, 100000, CORUN_STACK_DEFAULT,
			CORUN_STACK_DEFAULT + 12345 };
	for (unsigned i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		a.stack_size = ok[i];
		corun_t h = corun_go_attr(use_stack, (void *)(uintptr_t)ok[i], &a);
		CHECK(h > 0);
		CHECK_EQ(corun_join(h, NULL), 0);
	}
	corun_t h = corun_go(use_stack, (void *)(uintptr_t)CORUN_STACK_DEFAULT);
	CHECK_EQ(corun_join(h, NULL), 0);
	a.stack_size = CORUN_STACK_MAX; /* reserved, not touched: fine */
	h = corun_go_attr(ret_null, NULL, &a);
	CHECK(h > 0);
	CHECK_EQ(corun_join(h, NULL), 0);
}

/* ---- the page below every stack refuses access */
static int faults(const void *p)
{
	int fds[2];
	CHECK_EQ(pipe(fds), 0);
	errno = 0;
	ssize_t n = write(fds[1], p, 1);
	int e = errno;
	close(fds[0]);
	close(fds[1]);
	return n < 0 && e == EFAULT;
}

static void *check_guard(void *arg)
{
	(void)arg;
	struct corun__stack st = me()->stack;
	CHECK(faults(st.lo - 1));
	CHECK(faults(st.lo - page));
	CHECK(!faults(st.lo));
	return NULL;
}

static void guards(void)
{
	const char *env = getenv("CORUN_GUARD");
	enum corun__guard_kind k = corun__guard_kind();
	if (env && strcmp(env, "mprotect") == 0)
		CHECK_EQ(k, CORUN__GUARD_MPROTECT);
	fprintf(stderr, "   guard kind: %s\n", k == CORUN__GUARD_MADVISE ? "madvise" : "mprotect");
	corun_attr a;
	corun_attr_init(&a);
	corun_t h[50];
	for (int i = 0; i < 50; i++) { /* new slots and reused ones alike */
		a.stack_size = i % 2 ? CORUN_STACK_MIN : 3 * CORUN_STACK_MIN;
		CHECK((h[i] = corun_go_attr(check_guard, NULL, &a)) > 0);
	}
	CHECK_EQ(corun_run(), 0);
	for (int i = 0; i < 50; i++)
		CHECK_EQ(corun_join(h[i], NULL), 0);
}

/* ---- the newest freed stack is reused first; spawning in a loop maps
 * nothing new */
static void *where(void *arg)
{
	(void)arg;
	return me()->stack.lo;
}

static void *spawn_loop(void *arg)
{
	long n = (long)(intptr_t)arg;
	size_t slabs = corun__tls->stacks.nslabs;
	for (long i = 0; i < n; i++) {
		corun_t h = corun_go(ret_null, NULL);
		CHECK(h > 0);
		CHECK_EQ(corun_join(h, NULL), 0);
	}
	CHECK_EQ(corun__tls->stacks.nslabs, slabs);
	return NULL;
}

static void pool_reuse(void)
{
	corun_t keep = corun_go(ret_null, NULL); /* keep the runtime */
	void *first, *again;
	corun_t h = corun_go(where, NULL);
	CHECK_EQ(corun_join(h, &first), 0);
	h = corun_go(where, NULL);
	CHECK_EQ(corun_join(h, &again), 0);
	CHECK_PTR_EQ(again, first);

	h = corun_go(spawn_loop, (void *)(intptr_t)100000);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_join(keep, NULL), 0);
}

/* ---- freed stacks beyond the hot set give their pages back */
enum { DEEP = 32 * 1024, STACK = 2 * DEEP };
#define HOT ((int)(CORUN__POOL_HOT_BYTES / STACK > CORUN__POOL_HOT ? CORUN__POOL_HOT_BYTES / STACK : CORUN__POOL_HOT))
#define BURST (2 * HOT + 40)

static void *deep(void *arg)
{
	(void)arg;
	volatile char buf[DEEP];
	for (size_t i = 0; i < sizeof buf; i += 64)
		buf[i] = 1;
	CHECK_EQ(corun_park(), 0); /* all alive at once */
	return me()->stack.lo;
}

static size_t resident(char *lo, size_t len)
{
	size_t n = len / page, in = 0;
	unsigned char vec[n];
	CHECK_EQ(mincore(lo, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	return in;
}

static void trimming(void)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = STACK;
	static corun_t h[BURST];
	static char *lo[BURST];
	corun_t keep = corun_go(ret_null, NULL); /* keeps the runtime and slabs */
	CHECK(keep > 0);
	for (int i = 0; i < BURST; i++)
		CHECK((h[i] = corun_go_attr(deep, NULL, &a)) > 0);
	CHECK_EQ(corun_run(), 0);
	for (int i = 0; i < BURST; i++)
		CHECK_EQ(corun_join(h[i], (void **)&lo[i]), 0);
	/* They ended in spawn order. When the 2*HOT+1st was freed, the oldest
	 * were given back until HOT stayed warm; the 39 after it are warm too. */
	int trimmed = 2 * HOT + 1 - HOT;
	for (int i = 0; i < BURST; i++) {
		size_t in = resident(lo[i], STACK);
		if (i < trimmed)
			CHECK_EQ(in, 0);
		else
			CHECK(in >= DEEP / page);
	}
	CHECK_EQ(corun_join(keep, NULL), 0);
}

/* Run fn in a child process, which must exit 0: its exhaustion stays there. */
static void in_child(void (*fn)(void))
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
}

/* ---- out of memory: an error, not a crash; earlier ones still finish */
static int finished;
static void *count_end(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_park(), 0);
	finished++;
	return NULL;
}

static void out_of_memory_child(void)
{
	/* Leave a little room above what is mapped now. */
	struct rlimit rl;
	CHECK_EQ(getrlimit(RLIMIT_AS, &rl), 0);
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long vm_pages;
	CHECK(f && fscanf(f, "%lu", &vm_pages) == 1);
	fclose(f);
	rl.rlim_cur = vm_pages * page + (256u << 20);
	CHECK_EQ(setrlimit(RLIMIT_AS, &rl), 0);
	int n = 0;
	corun_t h;
	while ((h = corun_go(count_end, NULL)) > 0)
		n++;
	CHECK_EQ(errno, ENOMEM);
	CHECK(n > 10);
	CHECK_EQ((long)corun_count(), n);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(finished, n);
	/* Freed stacks are pooled: spawning works again. */
	h = corun_go(count_end, NULL);
	CHECK(h > 0);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(finished, n + 1);
}

static void out_of_memory(void)
{
#ifdef UNDER_TSAN
	/* TSan cannot map its shadow under a lowered RLIMIT_AS. */
	fprintf(stderr, "   skipped under ThreadSanitizer\n");
	return;
#endif
	in_child(out_of_memory_child);
}

/* ---- the kernel's map limit, when guards fall back to mprotect */
static void map_limit_child(void)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = CORUN_STACK_MIN;
	/* Detached, so that their handle slots are free once they end:
	 * growing the table would need a mapping, and there is none. */
	a.flags = CORUN_DETACHED;
	long n = 0;
	while (corun_go_attr(count_end, NULL, &a) > 0)
		n++;
	CHECK_EQ(errno, ENOMEM);
	/* Each mprotect guard splits a slab: two mappings per stack. */
	CHECK(n > 20000);
	CHECK(n < 65530);
	fprintf(stderr, "   %ld coroutines, then ENOMEM\n", n);
	finished = 0;
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(finished, n);
	/* Their stacks are pooled, guards and all: no new mapping needed. */
	for (int i = 0; i < 1000; i++)
		CHECK(corun_go_attr(count_end, NULL, &a) > 0);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(finished, n + 1000);
}

static void map_limit(void)
{
	if (corun__guard_kind() != CORUN__GUARD_MPROTECT) {
		fprintf(stderr, "   madvise guards need no mappings: nothing to exhaust here\n");
		return;
	}
#ifdef UNDER_TSAN
	/* TSan maps memory for every fiber: at the limit it fails itself. */
	fprintf(stderr, "   skipped under ThreadSanitizer\n");
	return;
#endif
	if (RUNNING_ON_VALGRIND) { /* its own table of mappings is smaller */
		fprintf(stderr, "   skipped under valgrind\n");
		return;
	}
	in_child(map_limit_child);
}

int main(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	RUN(sizes);
	RUN(guards);
	RUN(pool_reuse);
	RUN(trimming);
	RUN(out_of_memory);
	RUN(map_limit);
	return 0;
}
