/*
 * Stacks: size limits and rounding, the guard really faults (also with
 * the mprotect fallback: CTest runs this program a second time with
 * CORUN_GUARD=mprotect), pooled stacks are reused, old ones give their
 * pages back, and running out of memory or mappings is an error return
 * after which everything still works. (What an overflow does is
 * test_overflow.c's.)
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "priv.h" /* white box: stacks, slabs, guards, decay */

static size_t page;

/* The running coroutine's stack: its lowest byte, and its size in *size. */
static char *my_stack(size_t *size)
{
	char *lo = corun_priv_stack(corun_self(), size);
	CHECK(lo != NULL);
	return lo;
}

static size_t slabs(void)
{
	size_t n = 0;
	while (corun_priv_slab(n, NULL, NULL))
		n++;
	return n;
}

/* Stacks given back to the kernel so far (corun_stats). */
static size_t purged(void)
{
	struct corun_stats s = { .size = sizeof s };
	CHECK_EQ(corun_stats(&s), 0);
	return (size_t)s.stacks_purged;
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
	size_t want = (size_t)(uintptr_t)arg, size;
	my_stack(&size);
	CHECK(size >= want);
	CHECK_EQ(size % page, 0);
	CHECK_EQ(size - want < page, 1);
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
	h = corun_go_attr(ret_arg, NULL, &a);
	CHECK(h > 0);
	CHECK_EQ(corun_join(h, NULL), 0);
}

/* ---- the guard below every stack refuses access: a page, or on AArch64
 * the 64 KiB that GCC's stack-clash probes there count on */
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
	size_t size, guard = corun_priv_guard();
	char *lo = my_stack(&size);
	CHECK(faults(lo - 1));
	CHECK(faults(lo - guard / 2));
	CHECK(faults(lo - guard));
	CHECK(!faults(lo));
	return NULL;
}

static void guards(void)
{
	const char *env = getenv("CORUN_GUARD");
	int mprotect_guards = corun_priv_guard_mprotect();
	if (env && strcmp(env, "mprotect") == 0)
		CHECK(mprotect_guards);
	corun_t h[50];
	for (int i = 0; i < 50; i++) /* new slots and reused ones alike */
		h[i] = spawn_with(check_guard, NULL, i % 2 ? CORUN_STACK_MIN : 3 * CORUN_STACK_MIN, 0);
	size_t guard = corun_priv_guard();
	fprintf(stderr, "   guard kind: %s, %zu bytes\n", mprotect_guards ? "mprotect" : "madvise",
		guard);
	CHECK_EQ(guard % page, 0);
#if defined(__aarch64__)
	CHECK(guard >= (size_t)64 << 10);
#else
	CHECK_EQ(guard, page);
#endif
	CHECK_EQ(corun_run(), 0);
	for (int i = 0; i < 50; i++)
		CHECK_EQ(corun_join(h[i], NULL), 0);
}

/* ---- the newest freed stack is reused first; spawning in a loop maps
 * nothing new */
static void *where(void *arg)
{
	(void)arg;
	size_t size;
	return my_stack(&size);
}

static void *spawn_loop(void *arg)
{
	long n = (long)(intptr_t)arg;
	size_t slabs0 = slabs();
	for (long i = 0; i < n; i++) {
		corun_t h = corun_go(ret_arg, NULL);
		CHECK(h > 0);
		CHECK_EQ(corun_join(h, NULL), 0);
	}
	CHECK_EQ(slabs(), slabs0);
	return NULL;
}

static void pool_reuse(void)
{
	/* The pool keeps every stack meanwhile, so that the slab count below
	 * could only change by a new mapping. */
	CHECK_EQ(corun_set_stack_decay(-1), 0);
	corun_t keep = corun_go(ret_arg, NULL); /* keep the runtime */
	void *first, *again;
	corun_t h = corun_go(where, NULL);
	CHECK_EQ(corun_join(h, &first), 0);
	h = corun_go(where, NULL);
	CHECK_EQ(corun_join(h, &again), 0);
	CHECK_PTR_EQ(again, first);

	h = corun_go(spawn_loop, (void *)(intptr_t)100000);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_join(keep, NULL), 0);
	CHECK_EQ(corun_set_stack_decay(corun_priv_decay_default()), 0);
}

/* ---- idle stacks give their pages back by age, in few calls */
enum { DEEP = 32 * 1024, STACK = 2 * DEEP, BURST = 300 };

static void *deep(void *arg)
{
	(void)arg;
	volatile char buf[DEEP];
	for (size_t i = 0; i < sizeof buf; i += 64)
		buf[i] = 1;
	CHECK_EQ(corun_park(), 0); /* all alive at once */
	size_t size;
	return my_stack(&size);
}

/* Pages of [lo, lo + len) in memory; 0 if it is not even mapped (its slab
 * was given back whole). */
static size_t resident(char *lo, size_t len)
{
	size_t n = len / page, in = 0;
	unsigned char vec[n];
	if (!is_mapped(lo))
		return 0;
	CHECK_EQ(mincore(lo, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		in += vec[i] & 1;
	return in;
}

/* A burst of BURST coroutines on STACK-byte stacks, each touching DEEP
 * bytes, all alive at once; then all end. Their stacks are left in lo[]. */
static char *lo[BURST];
static void burst(void)
{
	static corun_t h[BURST];
	for (int i = 0; i < BURST; i++)
		h[i] = spawn_with(deep, NULL, STACK, 0);
	CHECK_EQ(corun_run(), 0);
	for (int i = 0; i < BURST; i++)
		CHECK_EQ(corun_join(h[i], (void **)&lo[i]), 0);
}

/* One spawn and join on a STACK-byte stack: the newest pooled one. */
static char *one_round(void)
{
	void *r;
	corun_t h = spawn_with(where, NULL, STACK, 0);
	CHECK_EQ(corun_join(h, &r), 0);
	return r;
}

static size_t burst_resident(char *except)
{
	size_t in = 0;
	for (int i = 0; i < BURST; i++)
		if (lo[i] != except)
			in += resident(lo[i], STACK);
	return in;
}

static void decay(void)
{
	const double interval = 0.3;
	CHECK_EQ(corun_set_stack_decay((int64_t)(interval * 1e9)), 0);
	CHECK_EQ(corun_trim(), 0); /* start from an empty pool */
	burst();
	double t0 = now_s();
	size_t purged0 = purged(), calls0 = corun_priv_purge_calls();
	size_t released0 = corun_priv_slabs_released();
	/* Ending gave nothing back, and a steady load that reuses one stack
	 * gives nothing back before the interval has passed. */
	CHECK(burst_resident(NULL) >= (size_t)BURST * (DEEP / page));
	char *busy = NULL;
	for (int i = 0; i < 1000; i++)
		busy = one_round();
	if (now_s() - t0 < interval) { /* unless this machine stalled */
		CHECK_EQ(purged(), purged0);
		CHECK(burst_resident(busy) >= (size_t)(BURST - 1) * (DEEP / page));
	}
	/* The same load goes on: within two intervals (and some slack for a
	 * loaded machine), every idle stack is given back; the busy one
	 * keeps its pages. */
	while (purged() - purged0 < BURST - 1) {
		CHECK(now_s() - t0 < 100 * interval); /* only a hang fails this */
		CHECK_PTR_EQ(one_round(), busy);
		usleep(1000);
	}
	CHECK(now_s() - t0 >= interval);
	CHECK_EQ(burst_resident(busy), 0);
	CHECK(resident(busy, STACK) > 0);
	/* The burst's stacks lie side by side in one slab: a few madvise
	 * calls gave all of them back, not one per stack. */
	fprintf(stderr, "   %zu stacks given back in %zu calls\n", purged() - purged0,
		corun_priv_purge_calls() - calls0);
	CHECK(corun_priv_purge_calls() - calls0 <= 4);
	/* A slab none of whose stacks is in use was unmapped whole. */
	CHECK(corun_priv_slabs_released() > released0);
	/* Given-back stacks are as good as new. */
	burst();
	CHECK(burst_resident(NULL) >= (size_t)BURST * (DEEP / page));
	CHECK_EQ(corun_set_stack_decay(corun_priv_decay_default()), 0);
}

static void decay_never(void)
{
	CHECK_EQ(corun_set_stack_decay(-1), 0);
	burst();
	size_t purged0 = purged();
	double t0 = now_s();
	while (now_s() - t0 < 0.1) {
		one_round();
		usleep(1000);
	}
	CHECK_EQ(purged(), purged0);
	CHECK(burst_resident(NULL) >= (size_t)BURST * (DEEP / page));
	CHECK_ERRNO(corun_set_stack_decay(-2), EINVAL);
	CHECK_EQ(corun_set_stack_decay(corun_priv_decay_default()), 0);
}

/* corun_trim gives back every pooled stack at once, in few calls. */
static void trim(void)
{
	CHECK_EQ(corun_set_stack_decay(-1), 0); /* nothing given back but by trim */
	burst();
	CHECK(burst_resident(NULL) >= (size_t)BURST * (DEEP / page));
	size_t calls0 = corun_priv_purge_calls();
	long maps = count_mappings();
	CHECK_EQ(corun_trim(), 0);
	CHECK_EQ(burst_resident(NULL), 0);
	CHECK(corun_priv_purge_calls() - calls0 <= 4);
	/* Every stack of the burst's size is idle: all their slabs are gone,
	 * and with them the mappings (two per stack with mprotect guards). */
	for (int i = 0; i < BURST; i++)
		CHECK(!is_mapped(lo[i]));
	size_t stack_size;
	for (size_t k = 0; corun_priv_slab(k, NULL, &stack_size); k++)
		CHECK(stack_size != STACK);
	if (EXACT_MAPPINGS)
		CHECK(count_mappings() < maps);
	/* From a coroutine too, and with nothing to give back. */
	corun_t h = corun_go(ret_arg, NULL);
	CHECK_EQ(corun_trim(), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK(one_round() != NULL);
	CHECK_EQ(corun_trim(), 0);
	CHECK_EQ(corun_trim(), 0);
	CHECK_EQ(corun_set_stack_decay(corun_priv_decay_default()), 0); /* back to the default */
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

/* Lower RLIMIT_AS to what is mapped now plus `room` bytes. */
static void limit_address_space(size_t room)
{
	struct rlimit rl;
	CHECK_EQ(getrlimit(RLIMIT_AS, &rl), 0);
	rl.rlim_cur = vm_bytes() + room;
	CHECK_EQ(setrlimit(RLIMIT_AS, &rl), 0);
}

static void out_of_memory_child(void)
{
	limit_address_space(256u << 20); /* a little room above what is mapped */
	finished = 0;
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

/* ---- a lowered RLIMIT_AS: slabs shrink to fit instead of failing */
enum { BIG_STACK = 1 << 20 };
#define HEADROOM ((size_t)3 << 29) /* 1.5 GiB */
static void address_space_child(void)
{
	limit_address_space(HEADROOM);
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = BIG_STACK;
	long n = 0;
	while (corun_go_attr(count_end, NULL, &a) > 0)
		n++;
	CHECK_EQ(errno, ENOMEM);
	/* Slabs double up to 1 GiB; without the retry, the first one that did
	 * not fit ended it with half the room unused. */
	size_t used = (size_t)n * (BIG_STACK + corun_priv_guard());
	fprintf(stderr, "   %ld stacks of 1 MiB in %zu slabs: %.0f%% of the room\n", n,
		slabs(), 100.0 * (double)used / (double)HEADROOM);
	CHECK(used >= HEADROOM / 10 * 9);
	finished = 0;
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(finished, n);
}

static void address_space(void)
{
#ifdef UNDER_TSAN
	fprintf(stderr, "   skipped under ThreadSanitizer\n");
	return;
#endif
	in_child(address_space_child);
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
	/* Each mprotect guard splits a slab: two mappings per stack. corun
	 * stops while a margin of the limit is left for everyone else. */
	CHECK(n > 20000);
	CHECK((size_t)n <= corun_priv_maps_budget() / 2);
	fprintf(stderr, "   %ld coroutines, then ENOMEM\n", n);
	/* The rest of the process can still map: 1,000 mappings of its own,
	 * made by alternating the protection of a region page by page. */
	enum { OWN = 1000 };
	char *own = mmap(NULL, 2 * OWN * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(own != MAP_FAILED);
	for (int i = 0; i < OWN; i++)
		CHECK_EQ(mprotect(own + 2 * (size_t)i * page, page, PROT_READ), 0);
	void *more = malloc(64 << 20); /* malloc maps a large block */
	CHECK(more != NULL);
	free(more);
	CHECK_EQ(munmap(own, 2 * OWN * page), 0);
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
	if (!corun_priv_guard_mprotect()) {
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

int main(int argc, char **argv)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	static const struct test tests[] = {
		TEST(sizes), TEST(guards), TEST(pool_reuse),
		TEST(decay), TEST(decay_never), TEST(trim),
		TEST(out_of_memory), TEST(address_space), TEST(map_limit),
	};
	return RUN_TESTS(argc, argv, tests);
}
