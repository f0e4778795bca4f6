/*
 * corun_stats, corun_stack_used and the CORUN_STACK_REPORT report.
 *
 * Counts are checked exactly where the sequence fixes them (spawns, live,
 * peak, waits by kind, pool hits and misses on a fresh runtime), and
 * against a bound that can be proved where it does not (switches, memory).
 * Nothing depends on timing: every wait is one that must happen.
 */
#include "helpers.h"

#include <alloca.h>
#include <corun.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "priv.h" /* white box: is there a runtime, lower the slot limit */

#define KIB ((size_t)1024)
#define STACK (256 * KIB)

static struct corun_stats stats(void)
{
	struct corun_stats s;
	memset(&s, 0xa5, sizeof s);
	s.size = sizeof s;
	CHECK_EQ(corun_stats(&s), 0);
	CHECK_EQ(s.size, sizeof s);
	return s;
}

/* ---- errors, and a thread with no runtime */
static void *no_runtime_thread(void *arg)
{
	(void)arg;
	CHECK_PTR_EQ(corun_priv_runtime(), NULL);
	struct corun_stats s = stats();
	CHECK_EQ(s.spawned, 0);
	CHECK_EQ(s.switches, 0);
	CHECK_EQ(s.stack_bytes_reserved, 0);
	CHECK_EQ(s.pool_hits, 0);
	CHECK_PTR_EQ(corun_priv_runtime(), NULL); /* asking made none */
	errno = 0;
	CHECK_EQ(corun_stack_used(0), 0);
	CHECK_EQ(errno, EPERM);
	errno = 0;
	CHECK_EQ(corun_stack_used(1 << 24), 0);
	CHECK_EQ(errno, ESRCH);
	return NULL;
}

static void errors(void)
{
	CHECK_ERRNO(corun_stats(NULL), EINVAL);
	struct corun_stats s;
	s.size = 0;
	CHECK_ERRNO(corun_stats(&s), EINVAL);
	s.size = sizeof s - 1;
	CHECK_ERRNO(corun_stats(&s), EINVAL);
	on_thread(no_runtime_thread, NULL);

	/* A caller whose struct is larger (a newer header): the rest zeroed. */
	struct {
		struct corun_stats s;
		uint64_t later[4];
	} big;
	memset(&big, 0xff, sizeof big);
	big.s.size = sizeof big;
	CHECK_EQ(corun_stats(&big.s), 0);
	CHECK_EQ(big.s.size, sizeof big);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(big.later[i], 0);

	/* corun_stack_used: main has no stack; stale and made-up handles. */
	corun_t h = corun_go(ret_arg, NULL);
	CHECK(h > 0);
	errno = 0;
	CHECK_EQ(corun_stack_used(0), 0);
	CHECK_EQ(errno, EPERM);
	CHECK(corun_stack_used(h) > 0); /* not started: its record is there */
	CHECK_EQ(corun_run(), 0);
	errno = 0;
	CHECK_EQ(corun_stack_used(h), 0); /* ended, not yet joined */
	CHECK_EQ(errno, ESRCH);
	CHECK_EQ(corun_join(h, NULL), 0);
	errno = 0;
	CHECK_EQ(corun_stack_used(h), 0); /* stale */
	CHECK_EQ(errno, ESRCH);
	errno = 0;
	CHECK_EQ(corun_stack_used(-1), 0);
	CHECK_EQ(errno, ESRCH);
}

/* ---- counts after a known sequence */
static void *recv_then_reply(void *arg)
{
	corun_chan **ch = arg;
	int v = 0;
	CHECK_EQ(corun_chan_recv(ch[0], &v, -1), 0); /* waits: nothing sent yet */
	v++;
	CHECK_EQ(corun_chan_send(ch[1], &v, -1), 0); /* main already waits */
	return NULL;
}

static void *read_pipe(void *arg)
{
	int fd = *(int *)arg;
	char c = 0;
	CHECK_EQ(corun_read(fd, &c, 1, -1), 1); /* waits: nothing written yet */
	CHECK_EQ(c, 'x');
	return NULL;
}

static void *wait_wg(void *arg)
{
	CHECK_EQ(corun_wg_wait(arg, -1), 0);
	return NULL;
}

static void *lock_mutex(void *arg)
{
	CHECK_EQ(corun_mutex_lock(arg, -1), 0);
	CHECK_EQ(corun_mutex_unlock(arg), 0);
	return NULL;
}

static void counts(void)
{
	fresh_runtime();
	CHECK_EQ(stats().spawned, 0);

	/* Five that park once: each is switched to at least twice (its start,
	 * its return from the park), and main once at the end. */
	corun_t h[5];
	for (int i = 0; i < 5; i++)
		h[i] = spawn_with(park_once, NULL, 0, 0);
	struct corun_stats s = stats();
	CHECK_EQ(s.spawned, 5);
	CHECK_EQ(s.live, 5);
	CHECK_EQ(s.peak_live, 5);
	CHECK_EQ(s.switches, 0);
	CHECK_EQ(s.pool_misses, 5);
	CHECK_EQ(s.pool_hits, 0);
	CHECK_EQ(s.stacks_pooled, 0);
	CHECK_EQ(s.waits_join, 0);
	for (int i = 0; i < 5; i++) /* the first waits; the others have ended */
		CHECK_EQ(corun_join(h[i], NULL), 0);
	s = stats();
	CHECK_EQ(s.spawned, 5);
	CHECK_EQ(s.live, 0);
	CHECK_EQ(s.peak_live, 5);
	CHECK(s.switches >= 2 * 5 + 1);
	CHECK_EQ(s.waits_join, 1);
	CHECK_EQ(s.stacks_pooled, 5);
	uint64_t sw = s.switches;

	/* Three more: pooled stacks, and no new peak. */
	for (int i = 0; i < 3; i++)
		spawn_with(ret_arg, NULL, 0, CORUN_DETACHED);
	CHECK_EQ(corun_run(), 0);
	s = stats();
	CHECK_EQ(s.spawned, 8);
	CHECK_EQ(s.peak_live, 5);
	CHECK_EQ(s.pool_misses, 5);
	CHECK_EQ(s.pool_hits, 3);
	CHECK(s.switches >= sw + 3 + 1);
	sw = s.switches;

	/* A channel ping-pong: the coroutine waits for the ping, main for the
	 * pong; each send finds its receiver waiting. */
	corun_chan *ch[2] = { corun_chan_make(sizeof(int), 0), corun_chan_make(sizeof(int), 0) };
	CHECK(ch[0] && ch[1]);
	spawn_with(recv_then_reply, ch, 0, CORUN_DETACHED);
	CHECK_EQ(corun_park(), 0); /* it runs and waits in recv */
	int v = 41;
	CHECK_EQ(corun_chan_send(ch[0], &v, -1), 0);
	CHECK_EQ(corun_chan_recv(ch[1], &v, -1), 0);
	CHECK_EQ(v, 42);
	CHECK_EQ(corun_run(), 0);
	corun_chan_free(ch[0]);
	corun_chan_free(ch[1]);
	s = stats();
	CHECK_EQ(s.waits_chan, 2);

	/* A sleep (its deadline is ahead: it must wait). */
	CHECK_EQ(corun_sleep(MS), 0);

	/* A pipe read through corun_read, before anything is written. */
	int p[2];
	CHECK_EQ(pipe(p), 0);
	spawn_with(read_pipe, &p[0], 0, CORUN_DETACHED);
	CHECK_EQ(corun_park(), 0); /* it runs and waits for input */
	CHECK_EQ(write(p[1], "x", 1), 1);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_close(p[0]), 0);
	CHECK_EQ(close(p[1]), 0);

	/* A wait group and a mutex, each waited on once. */
	corun_wg *wg = corun_wg_make();
	corun_mutex *mu = corun_mutex_make();
	CHECK(wg && mu);
	CHECK_EQ(corun_wg_add(wg, 1), 0);
	CHECK_EQ(corun_mutex_lock(mu, -1), 0);
	spawn_with(wait_wg, wg, 0, CORUN_DETACHED);
	spawn_with(lock_mutex, mu, 0, CORUN_DETACHED);
	CHECK_EQ(corun_park(), 0); /* both run and wait */
	CHECK_EQ(corun_wg_done(wg), 0);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_wg_free(wg), 0);
	CHECK_EQ(corun_mutex_free(mu), 0);

	s = stats();
	CHECK_EQ(s.spawned, 8 + 1 + 1 + 2);
	CHECK_EQ(s.live, 0);
	CHECK_EQ(s.peak_live, 5);
	CHECK_EQ(s.waits_sleep, 1);
	CHECK_EQ(s.waits_chan, 2);
	CHECK_EQ(s.waits_join, 1);
	CHECK_EQ(s.waits_sync, 2);
	CHECK_EQ(s.waits_fd, 1);
	CHECK_EQ(s.pool_misses, 5);
	CHECK_EQ(s.pool_hits, s.spawned - 5);
	CHECK_EQ(s.stacks_pooled, 5);
	/* Each of the 4 spawned since sw started and ended; main's waits
	 * switched away and back. */
	CHECK(s.switches >= sw + 2 * 4);
	CHECK(s.stack_bytes_reserved >= 5 * CORUN_STACK_DEFAULT);
	CHECK(s.stack_bytes_resident > 0); /* the pooled stacks' top pages */
	CHECK(s.stack_bytes_resident <= s.stack_bytes_reserved);

	/* corun_trim gives the pool back: purged, and its pages out. */
	CHECK_EQ(corun_trim(), 0);
	struct corun_stats t = stats();
	CHECK_EQ(t.stacks_purged, s.stacks_purged + 5);
	CHECK(t.stack_bytes_resident <= s.stack_bytes_resident);
}

/* Switches are counted on: through ring growth (which must not set the
 * count back), and from inside a coroutine. */
static void *count_from_inside(void *arg)
{
	uint64_t *out = arg;
	out[0] = stats().switches;
	corun_park();
	out[1] = stats().switches;
	return NULL;
}

static void switches(void)
{
	fresh_runtime();
	uint64_t last = 0;
	for (int round = 1; round <= 3; round++) {
		int n = 100 * round; /* the ring grows past 64, then 128, 256 */
		for (int i = 0; i < n; i++)
			spawn_with(park_n, (void *)(intptr_t)2, 0, CORUN_DETACHED);
		CHECK_EQ(corun_run(), 0);
		struct corun_stats s = stats();
		CHECK(s.switches >= last + 3 * (uint64_t)n); /* start, two parks */
		CHECK_EQ(s.peak_live, (uint64_t)n);
		last = s.switches;
	}
	uint64_t in[2];
	spawn_with(count_from_inside, in, 0, CORUN_DETACHED);
	spawn_with(park_once, NULL, 0, CORUN_DETACHED);
	CHECK_EQ(corun_run(), 0);
	CHECK(in[0] >= last + 1);
	CHECK(in[1] >= in[0] + 2); /* to the other and back */
}

/* A spawn that fails after taking a stack: no spawn, no new peak, and its
 * stack counted among those taken. */
static void failed_spawn(void)
{
	fresh_runtime();
	CHECK((corun_go(park_once, NULL)) > 0); /* makes the runtime */
	corun_priv_slot_limit(3);
	CHECK(corun_go(park_once, NULL) > 0);
	CHECK(corun_go(park_once, NULL) > 0);
	CHECK_ERRNO(corun_go(park_once, NULL), EAGAIN);
	struct corun_stats s = stats();
	CHECK_EQ(s.spawned, 3);
	CHECK_EQ(s.live, 3);
	CHECK_EQ(s.peak_live, 3);
	CHECK_EQ(s.pool_misses, 4);
	CHECK_EQ(s.pool_hits, 0);
	CHECK_EQ(s.stacks_pooled, 1);
	CHECK_EQ(corun_run(), 0);
	corun_priv_slot_limit(0);
	fresh_runtime(); /* the three are ended and unjoined: dropped */
}

/* ---- stack use */
static void touch(size_t bytes)
{
	volatile char *p = alloca(bytes);
	for (size_t i = 0; i < bytes; i += 512)
		p[i] = (char)i;
	p[bytes - 1] = 1;
}

static void *deep(void *arg)
{
	touch(100 * KIB);
	size_t *out = arg;
	if (out)
		*out = corun_stack_used(0);
	corun_park();
	return NULL;
}

static void *shallow(void *arg)
{
	size_t *out = arg;
	if (out)
		*out = corun_stack_used(0);
	corun_park();
	return NULL;
}

static void stack_used(void)
{
	fresh_runtime();
	size_t self = 0;
	corun_t h = spawn_with(shallow, &self, STACK, 0);
	CHECK_EQ(corun_park(), 0); /* it runs and parks */
	size_t used = corun_stack_used(h);
	CHECK(used > 0);
	CHECK(used < 16 * KIB);
	CHECK_EQ(used % (size_t)sysconf(_SC_PAGESIZE), 0);
	CHECK(self > 0 && self < 16 * KIB);
	CHECK_EQ(corun_join(h, NULL), 0);

	fresh_runtime();
	h = spawn_with(deep, &self, STACK, 0);
	CHECK_EQ(corun_park(), 0);
	used = corun_stack_used(h);
	CHECK(used >= 100 * KIB);
	CHECK(used <= STACK);
	CHECK(self >= 100 * KIB && self <= STACK);
	CHECK_EQ(corun_join(h, NULL), 0);
}

/* ---- CORUN_STACK_REPORT */
static void *shallow_quiet(void *arg)
{
	(void)arg;
	corun_park();
	return NULL;
}

static corun_t spawn_named(corun_fn fn, const char *name, size_t stack)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = stack;
	a.name = name;
	corun_t h = corun_go_attr(fn, NULL, &a);
	CHECK(h > 0);
	return h;
}

/* Deep ones, then shallow ones that reuse their stacks: measured from a
 * clean state, these must not inherit what the deep ones touched. */
static void spawn_report_load(void)
{
	spawn_named(deep, "deep", STACK);
	spawn_named(deep, "deep", STACK);
	CHECK_EQ(corun_run(), 0);
	for (int i = 0; i < 3; i++)
		spawn_named(shallow_quiet, "shallow", STACK);
	spawn_named(shallow_quiet, NULL, 64 * KIB);
	CHECK_EQ(corun_run(), 0);
}

static void child_report_shutdown(void)
{
	CHECK_EQ(corun_shutdown(), 0); /* the parent's, inherited by fork */
	setenv("CORUN_STACK_REPORT", "1", 1);
	spawn_report_load();
	CHECK_EQ(corun_shutdown(), 0);
	fprintf(stderr, "after shutdown\n");
}

static void *report_thread(void *arg)
{
	(void)arg;
	spawn_report_load();
	spawn_named(block_forever, "stuck", 32 * KIB); /* never ends */
	CHECK_EQ(corun_park(), 0);
	return NULL; /* the thread's exit releases the runtime */
}

static void child_report_thread_exit(void)
{
	setenv("CORUN_STACK_REPORT", "1", 1);
	on_thread(report_thread, NULL);
	fprintf(stderr, "after thread\n");
}

/* The line for name: its max, stack size and count; 0 if absent. */
static int report_line(const char *err, const char *name, size_t *max, size_t *size,
		       unsigned long long *count)
{
	char key[64];
	snprintf(key, sizeof key, "corun: stack use \"%s\": ", name);
	const char *p = strstr(err, key);
	if (!p)
		return 0;
	return sscanf(p + strlen(key), "max %zu of %zu bytes, %llu", max, size, count) == 3;
}

static void check_report(void (*child)(void), const char *after, int stuck)
{
	struct child d;
	run_child(&d, child);
	if (!d.exited || d.code != 0)
		CHECK_FAIL("child failed: %s", d.err);
	const char *head = strstr(d.err, "corun: stack report: ");
	if (!head)
		CHECK_FAIL("no report on stderr: %s", d.err);
	CHECK(strstr(d.err, after) > head); /* printed by the release */
	unsigned names = 0;
	CHECK_EQ(sscanf(head, "corun: stack report: %u names", &names), 1);
	CHECK_EQ(names, stuck ? 4 : 3);
	size_t max, size;
	unsigned long long count;
	if (!report_line(d.err, "deep", &max, &size, &count))
		CHECK_FAIL("no line for deep: %s", d.err);
	CHECK(max >= 100 * KIB && max <= STACK);
	CHECK_EQ(size, STACK);
	CHECK_EQ(count, 2);
	CHECK(report_line(d.err, "shallow", &max, &size, &count));
	CHECK(max > 0 && max < 16 * KIB); /* on the deep ones' stacks, cleaned */
	CHECK_EQ(size, STACK);
	CHECK_EQ(count, 3);
	CHECK(report_line(d.err, "(unnamed)", &max, &size, &count));
	CHECK(max > 0 && max < 16 * KIB);
	CHECK_EQ(size, 64 * KIB);
	CHECK_EQ(count, 1);
	if (stuck) {
		CHECK(report_line(d.err, "stuck", &max, &size, &count));
		CHECK(max > 0 && max <= 32 * KIB);
		CHECK_EQ(count, 1);
	}
	/* Sorted by name. */
	CHECK(strstr(d.err, "\"(unnamed)\"") < strstr(d.err, "\"deep\""));
	CHECK(strstr(d.err, "\"deep\"") < strstr(d.err, "\"shallow\""));
}

static void report_at_shutdown(void)
{
	check_report(child_report_shutdown, "after shutdown", 0);
}

static void report_at_thread_exit(void)
{
	check_report(child_report_thread_exit, "after thread", 1);
}

/* Without the variable, nothing is printed and stacks keep their pages. */
static void child_no_report(void)
{
	CHECK_EQ(corun_shutdown(), 0);
	unsetenv("CORUN_STACK_REPORT");
	spawn_report_load();
	CHECK_EQ(corun_shutdown(), 0);
}

static void no_report_without_variable(void)
{
	struct child d;
	run_child(&d, child_no_report);
	if (!d.exited || d.code != 0)
		CHECK_FAIL("child failed: %s", d.err);
	CHECK(!strstr(d.err, "corun: stack"));
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(errors),
		TEST(counts),
		TEST(switches),
		TEST(failed_spawn),
		TEST(stack_used),
		TEST(report_at_shutdown),
		TEST(report_at_thread_exit),
		TEST(no_report_without_variable),
	};
	return RUN_TESTS(argc, argv, tests);
}
