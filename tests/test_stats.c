/*
 * corun_stats, corun_stack_used and the CORUN_STACK_REPORT report; and the
 * record of why a coroutine waits, which the waits are counted by.
 *
 * Counts are checked exactly where the sequence fixes them (spawns, live,
 * peak, waits by kind, pool hits and misses on a fresh runtime), and
 * against a bound that can be proved where it does not (switches, memory).
 * Nothing depends on timing: every wait is one that must happen.
 */
#include "helpers.h"

#include <alloca.h>
#include <corun.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "priv.h" /* white box: is there a runtime, lower the slot limit, why one waits */

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
	/* Below the first version's struct, which ended at
	 * stack_bytes_resident; that one is still served (waits_blocking,
	 * appended later, left as it was). */
	size_t v1 = offsetof(struct corun_stats, stack_bytes_resident) + sizeof(uint64_t);
	s.size = v1 - 1;
	CHECK_ERRNO(corun_stats(&s), EINVAL);
	s.size = v1;
	s.waits_blocking = 12345;
	CHECK_EQ(corun_stats(&s), 0);
	CHECK_EQ(s.waits_blocking, 12345);
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

/* ---- why each blocking call waits: the one record of it (src/core/co.h),
 * written into the waiter's record when its wait begins, and the counts
 * by it, public and per reason */
enum call {
	SLEEP_UNTIL,
	SLEEP_FOREVER,
	JOIN,
	CHAN_SEND,
	CHAN_RECV,
	SELECT,
	SELECT_NONE,
	WG_WAIT,
	MUTEX_LOCK,
	READ,
	ACCEPT,
	WAIT_FD_IN,
	WRITE,
	WAIT_FD_OUT,
	WAIT_FD_EITHER,
	CALLS
};

static struct {
	int64_t deadline;
	corun_t target; /* blocked in a sleep forever, for JOIN */
	corun_chan *ch;
	corun_case cases[2];
	corun_wg *wg;
	corun_mutex *mu;
	int empty[2], full[2], listener;
} why;

/* Blocks in the call `arg` names until canceled. */
static void *block_in(void *arg)
{
	int v = 0;
	char c = 0;
	switch ((enum call)(intptr_t)arg) {
	case SLEEP_UNTIL:
		CHECK_ERRNO(corun_sleep_until(why.deadline), ECANCELED);
		break;
	case SLEEP_FOREVER:
		CHECK_ERRNO(corun_sleep_until(-1), ECANCELED);
		break;
	case JOIN:
		CHECK_ERRNO(corun_join(why.target, NULL), ECANCELED);
		break;
	case CHAN_SEND:
		CHECK_ERRNO(corun_chan_send(why.ch, &v, -1), ECANCELED);
		break;
	case CHAN_RECV:
		CHECK_ERRNO(corun_chan_recv(why.ch, &v, -1), ECANCELED);
		break;
	case SELECT:
		CHECK_ERRNO(corun_select(why.cases, 2, why.deadline), ECANCELED);
		break;
	case SELECT_NONE:
		CHECK_ERRNO(corun_select(NULL, 0, -1), ECANCELED);
		break;
	case WG_WAIT:
		CHECK_ERRNO(corun_wg_wait(why.wg, -1), ECANCELED);
		break;
	case MUTEX_LOCK:
		CHECK_ERRNO(corun_mutex_lock(why.mu, -1), ECANCELED);
		break;
	case READ:
		CHECK_ERRNO(corun_read(why.empty[0], &c, 1, -1), ECANCELED);
		break;
	case ACCEPT:
		CHECK_ERRNO(corun_accept(why.listener, NULL, NULL, -1), ECANCELED);
		break;
	case WAIT_FD_IN:
		CHECK_ERRNO(corun_wait_fd(why.empty[0], POLLIN, -1), ECANCELED);
		break;
	case WRITE:
		CHECK_ERRNO(corun_write(why.full[1], &c, 1, -1), ECANCELED);
		break;
	case WAIT_FD_OUT:
		CHECK_ERRNO(corun_wait_fd(why.full[1], POLLOUT, -1), ECANCELED);
		break;
	case WAIT_FD_EITHER:
		CHECK_ERRNO(corun_wait_fd(why.empty[0], POLLIN | POLLOUT, -1), ECANCELED);
		break;
	case CALLS:
		break;
	}
	return NULL;
}

static uint64_t waits_all(const struct corun_stats *s)
{
	return s->waits_sleep + s->waits_chan + s->waits_join + s->waits_sync + s->waits_fd;
}

static void reasons(void)
{
	fresh_runtime();
	why.deadline = corun_now() + 3600 * 1000 * MS;
	CHECK((why.ch = corun_chan_make(sizeof(int), 0)));
	static corun_chan *other;
	CHECK((other = corun_chan_make(sizeof(int), 0)));
	static int in, out;
	why.cases[0] = (corun_case){ .chan = why.ch, .op = CORUN_RECV, .elem = &in };
	why.cases[1] = (corun_case){ .chan = other, .op = CORUN_SEND, .elem = &out };
	CHECK((why.wg = corun_wg_make()));
	CHECK_EQ(corun_wg_add(why.wg, 1), 0);
	CHECK((why.mu = corun_mutex_make()));
	CHECK_EQ(corun_mutex_lock(why.mu, -1), 0); /* main holds it */
	CHECK_EQ(pipe(why.empty), 0);
	CHECK_EQ(pipe(why.full), 0);
	CHECK_EQ(fcntl(why.full[1], F_SETFL, O_NONBLOCK), 0);
	static char block[4096];
	while (write(why.full[1], block, sizeof block) > 0)
		;
	CHECK_EQ(errno, EAGAIN);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK((why.listener = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	CHECK_EQ(bind(why.listener, (struct sockaddr *)&a, sizeof a), 0);
	CHECK_EQ(listen(why.listener, 1), 0);
	why.target = spawn_with(block_in, (void *)(intptr_t)SLEEP_FOREVER, 0, 0);
	CHECK_EQ(corun_park(), 0); /* it sleeps: JOIN's target */
	const void *target = corun_priv_record(why.target);
	CHECK(target);

	static const struct {
		int reason;
		size_t counter; /* its public count */
	} want[CALLS] = {
#define AT(f) offsetof(struct corun_stats, f)
		[SLEEP_UNTIL] = { CORUN_PRIV_WAIT_SLEEP, AT(waits_sleep) },
		[SLEEP_FOREVER] = { CORUN_PRIV_WAIT_FOREVER, AT(waits_sleep) },
		[JOIN] = { CORUN_PRIV_WAIT_JOIN, AT(waits_join) },
		[CHAN_SEND] = { CORUN_PRIV_WAIT_CHAN_SEND, AT(waits_chan) },
		[CHAN_RECV] = { CORUN_PRIV_WAIT_CHAN_RECV, AT(waits_chan) },
		[SELECT] = { CORUN_PRIV_WAIT_SELECT, AT(waits_chan) },
		[SELECT_NONE] = { CORUN_PRIV_WAIT_SELECT, AT(waits_chan) },
		[WG_WAIT] = { CORUN_PRIV_WAIT_WG, AT(waits_sync) },
		[MUTEX_LOCK] = { CORUN_PRIV_WAIT_MUTEX, AT(waits_sync) },
		[READ] = { CORUN_PRIV_WAIT_FD_READ, AT(waits_fd) },
		[ACCEPT] = { CORUN_PRIV_WAIT_FD_READ, AT(waits_fd) },
		[WAIT_FD_IN] = { CORUN_PRIV_WAIT_FD_READ, AT(waits_fd) },
		[WRITE] = { CORUN_PRIV_WAIT_FD_WRITE, AT(waits_fd) },
		[WAIT_FD_OUT] = { CORUN_PRIV_WAIT_FD_WRITE, AT(waits_fd) },
		[WAIT_FD_EITHER] = { CORUN_PRIV_WAIT_FD_EITHER, AT(waits_fd) },
#undef AT
	};
	const uint64_t obj[CALLS] = {
		[SLEEP_UNTIL] = (uint64_t)why.deadline,
		[SLEEP_FOREVER] = (uint64_t)-1,
		[JOIN] = (uintptr_t)target,
		[CHAN_SEND] = (uintptr_t)why.ch,
		[CHAN_RECV] = (uintptr_t)why.ch,
		[SELECT] = (uintptr_t)why.cases,
		[SELECT_NONE] = 0,
		[WG_WAIT] = (uintptr_t)why.wg,
		[MUTEX_LOCK] = (uintptr_t)why.mu,
		[READ] = (uint64_t)why.empty[0],
		[ACCEPT] = (uint64_t)why.listener,
		[WAIT_FD_IN] = (uint64_t)why.empty[0],
		[WRITE] = (uint64_t)why.full[1],
		[WAIT_FD_OUT] = (uint64_t)why.full[1],
		[WAIT_FD_EITHER] = (uint64_t)why.empty[0],
	};
	for (int c = 0; c < CALLS; c++) {
		struct corun_stats before = stats();
		uint64_t by_reason[CORUN_PRIV_WAIT_REASONS];
		for (int r = 0; r < CORUN_PRIV_WAIT_REASONS; r++)
			by_reason[r] = corun_priv_waits(r);
		corun_t h = spawn_with(block_in, (void *)(intptr_t)c, 0, 0);
		CHECK_EQ(corun_park(), 0); /* it runs, and waits */
		struct corun_priv_co co;
		corun_priv_co(h, &co);
		CHECK_EQ(co.state, CORUN_PRIV_BLOCKED);
		uint64_t o = 0;
		CHECK_EQ(corun_priv_wait_reason(h, &o), want[c].reason);
		CHECK_EQ(o, obj[c]);
		/* Counted once, by its reason, and in its public count. */
		struct corun_stats after = stats();
		for (int r = 0; r < CORUN_PRIV_WAIT_REASONS; r++)
			CHECK_EQ(corun_priv_waits(r) - by_reason[r], r == want[c].reason);
		CHECK_EQ(waits_all(&after), waits_all(&before) + 1);
		uint64_t was, is;
		memcpy(&was, (char *)&before + want[c].counter, sizeof was);
		memcpy(&is, (char *)&after + want[c].counter, sizeof is);
		CHECK_EQ(is, was + 1);
		CHECK_EQ(corun_cancel(h), 0);
		CHECK_EQ(corun_join(h, NULL), 0);
	}
	/* Main's own waits are counted the same way. */
	uint64_t slept = corun_priv_waits(CORUN_PRIV_WAIT_SLEEP);
	CHECK_EQ(corun_sleep(MS), 0);
	CHECK_EQ(corun_priv_waits(CORUN_PRIV_WAIT_SLEEP), slept + 1);

	CHECK_EQ(corun_cancel(why.target), 0);
	CHECK_EQ(corun_join(why.target, NULL), 0);
	CHECK_EQ(corun_mutex_unlock(why.mu), 0);
	CHECK_EQ(corun_mutex_free(why.mu), 0);
	CHECK_EQ(corun_wg_free(why.wg), 0);
	CHECK_EQ(corun_chan_free(why.ch), 0);
	CHECK_EQ(corun_chan_free(other), 0);
	CHECK_EQ(corun_close(why.empty[0]), 0);
	CHECK_EQ(close(why.empty[1]), 0);
	CHECK_EQ(close(why.full[0]), 0);
	CHECK_EQ(corun_close(why.full[1]), 0);
	CHECK_EQ(corun_close(why.listener), 0);
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
		TEST(reasons),
		TEST(switches),
		TEST(failed_spawn),
		TEST(stack_used),
		TEST(report_at_shutdown),
		TEST(report_at_thread_exit),
		TEST(no_report_without_variable),
	};
	return RUN_TESTS(argc, argv, tests);
}
