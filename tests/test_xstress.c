/*
 * Lost wakeups, on purpose: messages between 2 to 8 threads in random
 * topologies, every one counted, under a watchdog.
 *
 * Each round draws (from a seed printed first, and settable with
 * CORUN_XSTRESS_SEED to replay a run) a number of threads, shared channels
 * of capacities 0 to 4, and roles spread over the threads: producers,
 * consumers, relays from a channel to a later one, and selectors that take
 * from 2 or 3 shared channels and a channel of their own thread at once
 * (corun_select), forwarding what they take to a later channel. Channels
 * form a chain of later-only edges, so the round always ends: a channel's
 * last sender closes it, its readers drain it and end, and so on down.
 * Each thread runs its roles as coroutines, and now and then its main
 * takes one itself. Every operation may first sleep (0 to 200 µs) or park,
 * and may carry a deadline so near that it expires, and is then retried
 * (the same message: a send that timed out must not have gone through).
 *
 * Every message carries its channel and a sequence number unique on that
 * channel; receipts are marked in a bitmap, so a message received twice,
 * or never, or on the wrong channel, fails. The test's main thread is the
 * watchdog: if no message moves anywhere for STALL_MS, it prints every
 * thread's, role's and channel's counters and the seed, and fails. A lost
 * wakeup leaves a coroutine waiting for a message that was handed over;
 * deadlines would hide it, so most waits have none.
 *
 * `sync` does the same for shared mutexes and wait groups: coroutines and
 * mains of every thread take random mutexes (sometimes holding them over a
 * sleep, sometimes with a deadline that expires) to update counters only
 * the mutex guards, and meet at a wait group after each phase, where the
 * phase's count must be complete.
 *
 * `messages` is the ordinary size (CORUN_XSTRESS_MESSAGES overrides it);
 * `messages_long` passes ten million (ctest label "stress").
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* A stall longer than this fails. Valgrind runs one thread at a time, with
 * its own idea of when to switch: more there. */
/* Under valgrind and qemu-user (CORUN_TEST_EMULATED, cross builds) every
 * thread runs tens of times slower, and their threads share the two host
 * CPUs: a second without progress there is scheduling, not a lost wake. */
#define STALL_MS (RUNNING_ON_VALGRIND || getenv("CORUN_TEST_EMULATED") ? 10000 : 1000)

enum {
	MAX_THREADS = 8,
	MAX_CHANS = 12,
	MAX_ROLES = 48,
	MAX_INPUTS = 3,
	QLEN = 4,         /* messages a selector holds to forward */
	LOCAL = 0xffff,   /* the channel id of a selector's own channel */
};

/* ---- seeds */

static uint64_t master_seed;

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return splitmix(s) % n;
}

static void seed_init(void)
{
	if (master_seed)
		return;
	const char *e = getenv("CORUN_XSTRESS_SEED");
	if (e && *e) {
		master_seed = strtoull(e, NULL, 0);
	} else {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		uint64_t s = (uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 20) ^ (uint64_t)getpid();
		master_seed = splitmix(&s) | 1;
	}
	fprintf(stderr, "   seed 0x%016" PRIx64 " (CORUN_XSTRESS_SEED=0x%016" PRIx64
			" repeats it)\n",
		master_seed, master_seed);
}

/* ---- what every thread counts (written by its own thread only) */

struct counters {
	_Atomic uint64_t moved;    /* messages sent or received, mutexes taken */
	_Atomic uint64_t timeouts; /* deadlines that expired, retried */
	_Atomic uint64_t sleeps, parks;
	_Atomic int roles, done;   /* roles it runs, and those ended */
	_Atomic int phase;         /* enum phase: how far the thread got */
};

/* For the report: a thread that never got to run its coroutines is told
 * apart from one whose coroutines wait. */
enum phase { P_CREATED, P_STARTED, P_SPAWNED, P_RUNNING, P_FINISHED };
static const char *const phase_names[] = { "created", "started", "spawned", "running",
					   "finished" };

static void set_phase(struct counters *c, enum phase p)
{
	atomic_store_explicit(&c->phase, (int)p, memory_order_relaxed);
}

static void bump(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Before an operation, now and then: a sleep of 0 to 200 µs, or a park. */
static void jitter(uint64_t *s, struct counters *c, unsigned one_in)
{
	uint64_t x = below(s, one_in);
	if (x == 0) {
		CHECK_EQ(corun_sleep((int64_t)below(s, 201) * 1000), 0);
		bump(&c->sleeps);
	} else if (x < 4) {
		CHECK_EQ(corun_park(), 0);
		bump(&c->parks);
	}
}

/* A deadline for one operation: mostly none (a lost wake must show as a
 * stall); now and then one so near it may well expire, or 0 (only if it
 * can go now). */
static int64_t deadline(uint64_t *s)
{
	uint64_t x = below(s, 40);
	if (x == 0)
		return 0;
	if (x == 1)
		return corun_now() + (int64_t)below(s, 50000);
	return -1;
}

/* ---- the message round */

struct msg {
	uint32_t chan, thread;
	uint64_t seq;
};

struct xchan {
	corun_chan *ch;
	uint32_t id;
	size_t cap;
	_Atomic uint64_t next;     /* sequence numbers handed to senders */
	_Atomic uint64_t received;
	_Atomic int senders;       /* not yet done; the last one closes it */
	_Atomic uint64_t *seen;    /* a bit per sequence number */
	uint64_t bound;            /* every sequence number is below it */
};

enum kind { PRODUCER, CONSUMER, RELAY, SELECTOR };
static const char *const kind_names[] = { "producer", "consumer", "relay", "selector" };

/* What a role does now, for the watchdog's report. */
enum where { W_START, W_SEND, W_RECV, W_SELECT, W_JOIN, W_DONE };
static const char *const where_names[] = { "start", "send", "recv", "select", "join", "done" };

struct round;

struct role {
	enum kind kind;
	int thread, on_main;
	int in[MAX_INPUTS], n_in;
	int out;                  /* -1: none */
	uint64_t count;           /* a producer's messages; a selector's own */
	size_t local_cap;
	uint64_t seed;
	struct round *rd;
	_Atomic int where;
	_Atomic uint64_t ops;
};

struct round {
	int threads, chans, roles;
	struct xchan ch[MAX_CHANS];
	struct role role[MAX_ROLES];
	struct counters th[MAX_THREADS];
	_Atomic uint64_t local_sent, local_received;
	_Atomic int finished;     /* threads done */
};

static void set_where(struct role *ro, enum where w)
{
	atomic_store_explicit(&ro->where, (int)w, memory_order_relaxed);
}

static void send_retry(struct role *ro, corun_chan *ch, const struct msg *m, uint64_t *s)
{
	struct counters *c = &ro->rd->th[ro->thread];
	set_where(ro, W_SEND);
	while (corun_chan_send(ch, m, deadline(s)) < 0) {
		CHECK_EQ(errno, ETIMEDOUT);
		bump(&c->timeouts);
	}
	bump(&c->moved);
	bump(&ro->ops);
}

/* A message taken from channel x: its first receipt. */
static void record(struct role *ro, struct xchan *x, const struct msg *m)
{
	if (m->chan != x->id || m->seq >= x->bound)
		CHECK_FAIL("channel %u gave a message of channel %u, number %" PRIu64, x->id,
			   m->chan, m->seq);
	uint64_t bit = UINT64_C(1) << (m->seq % 64);
	if (atomic_fetch_or(&x->seen[m->seq / 64], bit) & bit)
		CHECK_FAIL("channel %u: message %" PRIu64 " (sent by thread %u) received twice",
			   x->id, m->seq, m->thread);
	atomic_fetch_add(&x->received, 1);
	bump(&ro->rd->th[ro->thread].moved);
	bump(&ro->ops);
}

/* 0 with a message, or EPIPE: closed and drained. */
static int recv_retry(struct role *ro, struct xchan *x, struct msg *m, uint64_t *s)
{
	set_where(ro, W_RECV);
	while (corun_chan_recv(x->ch, m, deadline(s)) < 0) {
		if (errno == EPIPE)
			return EPIPE;
		CHECK_EQ(errno, ETIMEDOUT);
		bump(&ro->rd->th[ro->thread].timeouts);
	}
	record(ro, x, m);
	return 0;
}

static struct msg next_msg(struct role *ro, struct xchan *x)
{
	return (struct msg){ x->id, (uint32_t)ro->thread, atomic_fetch_add(&x->next, 1) };
}

static void sender_done(struct xchan *x)
{
	if (atomic_fetch_sub(&x->senders, 1) == 1)
		CHECK_EQ(corun_chan_close(x->ch), 0);
}

static void producer(struct role *ro, uint64_t *s)
{
	struct xchan *out = &ro->rd->ch[ro->out];
	for (uint64_t i = 0; i < ro->count; i++) {
		jitter(s, &ro->rd->th[ro->thread], 64);
		struct msg m = next_msg(ro, out);
		send_retry(ro, out->ch, &m, s);
	}
	sender_done(out);
}

static void consumer(struct role *ro, uint64_t *s)
{
	struct msg m;
	do
		jitter(s, &ro->rd->th[ro->thread], 64);
	while (recv_retry(ro, &ro->rd->ch[ro->in[0]], &m, s) == 0);
}

static void relay(struct role *ro, uint64_t *s)
{
	struct xchan *in = &ro->rd->ch[ro->in[0]], *out = &ro->rd->ch[ro->out];
	struct msg m;
	for (;;) {
		jitter(s, &ro->rd->th[ro->thread], 64);
		if (recv_retry(ro, in, &m, s))
			break;
		struct msg f = next_msg(ro, out);
		send_retry(ro, out->ch, &f, s);
	}
	sender_done(out);
}

/* A selector's own channel, fed by a coroutine of its thread: in order. */
struct feed {
	struct role *ro;
	corun_chan *ch;
	uint64_t n, seed;
};

static void *feed_local(void *arg)
{
	struct feed *f = arg;
	uint64_t s = f->seed;
	for (uint64_t i = 0; i < f->n; i++) {
		jitter(&s, &f->ro->rd->th[f->ro->thread], 64);
		struct msg m = { LOCAL, (uint32_t)f->ro->thread, i };
		while (corun_chan_send(f->ch, &m, deadline(&s)) < 0)
			CHECK_EQ(errno, ETIMEDOUT);
		atomic_fetch_add(&f->ro->rd->local_sent, 1);
		bump(&f->ro->rd->th[f->ro->thread].moved);
	}
	CHECK_EQ(corun_chan_close(f->ch), 0);
	return NULL;
}

static void selector(struct role *ro, uint64_t *s)
{
	struct round *rd = ro->rd;
	struct counters *c = &rd->th[ro->thread];
	struct feed f = { ro, corun_chan_make(sizeof(struct msg), ro->local_cap), ro->count,
			  splitmix(s) };
	CHECK(f.ch != NULL);
	corun_t h = corun_go(feed_local, &f);
	CHECK(h > 0);
	int open[MAX_INPUTS], nopen = ro->n_in, lopen = 1;
	for (int i = 0; i < ro->n_in; i++)
		open[i] = 1;
	uint64_t lnext = 0;
	struct msg q[QLEN], in[MAX_INPUTS], lin;
	size_t qh = 0, qn = 0;
	struct xchan *out = ro->out >= 0 ? &rd->ch[ro->out] : NULL;
	while (nopen || lopen || qn) {
		corun_case cs[MAX_INPUTS + 2];
		int what[MAX_INPUTS + 2]; /* an input, or -1 own, -2 the send */
		size_t n = 0;
		if (qn < QLEN)
			for (int i = 0; i < ro->n_in; i++)
				if (open[i]) {
					cs[n] = (corun_case){ rd->ch[ro->in[i]].ch, CORUN_RECV, &in[i], 0 };
					what[n++] = i;
				}
		if (lopen) {
			cs[n] = (corun_case){ f.ch, CORUN_RECV, &lin, 0 };
			what[n++] = -1;
		}
		if (qn) {
			cs[n] = (corun_case){ out->ch, CORUN_SEND, &q[qh], 0 };
			what[n++] = -2;
		}
		jitter(s, c, 64);
		set_where(ro, W_SELECT);
		int k = corun_select(cs, n, deadline(s));
		if (k < 0) {
			CHECK_EQ(errno, ETIMEDOUT);
			bump(&c->timeouts);
			continue;
		}
		CHECK(k < (int)n);
		if (what[k] == -2) {
			CHECK_EQ(cs[k].err, 0);
			qh = (qh + 1) % QLEN;
			qn--;
			bump(&c->moved);
			bump(&ro->ops);
		} else if (what[k] == -1) {
			if (cs[k].err == EPIPE) {
				lopen = 0;
				continue;
			}
			CHECK_EQ(cs[k].err, 0);
			CHECK_EQ(lin.chan, LOCAL);
			CHECK_EQ(lin.seq, lnext);
			lnext++;
			atomic_fetch_add(&rd->local_received, 1);
			bump(&c->moved);
		} else {
			int i = what[k];
			if (cs[k].err == EPIPE) {
				open[i] = 0;
				nopen--;
				continue;
			}
			CHECK_EQ(cs[k].err, 0);
			record(ro, &rd->ch[ro->in[i]], &in[i]);
			if (out) {
				q[(qh + qn) % QLEN] = next_msg(ro, out);
				qn++;
			}
		}
	}
	CHECK_EQ(lnext, ro->count);
	set_where(ro, W_JOIN);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_chan_free(f.ch), 0);
	if (out)
		sender_done(out);
}

static void *run_role(void *arg)
{
	struct role *ro = arg;
	uint64_t s = ro->seed;
	switch (ro->kind) {
	case PRODUCER:
		producer(ro, &s);
		break;
	case CONSUMER:
		consumer(ro, &s);
		break;
	case RELAY:
		relay(ro, &s);
		break;
	case SELECTOR:
		selector(ro, &s);
		break;
	}
	set_where(ro, W_DONE);
	atomic_fetch_add(&ro->rd->th[ro->thread].done, 1);
	return NULL;
}

struct thread_arg {
	void *state; /* the round */
	int idx;
};

static void *round_thread(void *arg)
{
	struct thread_arg *ta = arg;
	struct round *rd = ta->state;
	struct role *mine = NULL;
	set_phase(&rd->th[ta->idx], P_STARTED);
	for (int i = 0; i < rd->roles; i++) {
		struct role *ro = &rd->role[i];
		if (ro->thread != ta->idx)
			continue;
		if (ro->on_main && !mine)
			mine = ro;
		else
			CHECK(corun_go(run_role, ro) > 0);
	}
	set_phase(&rd->th[ta->idx], P_SPAWNED);
	if (mine)
		run_role(mine); /* main's blocking calls run the others meanwhile */
	set_phase(&rd->th[ta->idx], P_RUNNING);
	CHECK_EQ(corun_run(), 0);
	set_phase(&rd->th[ta->idx], P_FINISHED);
	atomic_fetch_add(&rd->finished, 1);
	return NULL;
}

/* ---- the watchdog */

typedef void (*dump_fn)(void *state);

static uint64_t progress(const struct counters *th, int n)
{
	uint64_t p = 0;
	for (int i = 0; i < n; i++)
		p += atomic_load_explicit(&th[i].moved, memory_order_relaxed);
	return p;
}

static void dump_threads(const struct counters *th, int n)
{
	for (int i = 0; i < n; i++)
		fprintf(stderr,
			"   thread %d (%s): moved %" PRIu64 ", timeouts %" PRIu64
			", sleeps %" PRIu64 ", parks %" PRIu64 ", roles %d of %d done\n",
			i, phase_names[atomic_load(&th[i].phase)], atomic_load(&th[i].moved),
			atomic_load(&th[i].timeouts), atomic_load(&th[i].sleeps),
			atomic_load(&th[i].parks), atomic_load(&th[i].done),
			atomic_load(&th[i].roles));
}

/* Start `n` threads running fn(args[i]) and watch them: fail, with the
 * state dump's report, if the counters stand still for STALL_MS before
 * all are finished. */
static void watch(int n, void *(*fn)(void *), struct thread_arg *args, struct counters *th,
		  _Atomic int *finished, dump_fn dump, void *state, uint64_t round_seed)
{
	pthread_t t[MAX_THREADS];
	for (int i = 0; i < n; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, fn, &args[i]), 0);
	uint64_t last = progress(th, n);
	double since = now_s();
	while (atomic_load(finished) < n) {
		usleep(10000);
		uint64_t p = progress(th, n);
		if (p != last) {
			last = p;
			since = now_s();
			continue;
		}
		if ((now_s() - since) * 1000 > STALL_MS) {
			fprintf(stderr,
				"STALL: nothing moved for %d ms (seed 0x%016" PRIx64
				", round seed 0x%016" PRIx64 ")\n",
				STALL_MS, master_seed, round_seed);
			dump_threads(th, n);
			dump(state);
			fflush(stderr);
			if (getenv("CORUN_XSTRESS_HOLD")) /* for a debugger to attach */
				for (;;)
					pause();
			_exit(1);
		}
	}
	for (int i = 0; i < n; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
}

static void dump_round(void *state)
{
	struct round *rd = state;
	for (int i = 0; i < rd->chans; i++) {
		struct xchan *x = &rd->ch[i];
		fprintf(stderr,
			"   channel %d (capacity %zu): sent %" PRIu64 ", received %" PRIu64
			", senders left %d\n",
			i, x->cap, atomic_load(&x->next), atomic_load(&x->received),
			atomic_load(&x->senders));
	}
	for (int i = 0; i < rd->roles; i++) {
		struct role *ro = &rd->role[i];
		fprintf(stderr, "   role %d: %s on thread %d%s, in", i, kind_names[ro->kind],
			ro->thread, ro->on_main ? " (main)" : "");
		for (int j = 0; j < ro->n_in; j++)
			fprintf(stderr, " %d", ro->in[j]);
		fprintf(stderr, ", out %d: %s, %" PRIu64 " done\n", ro->out,
			where_names[atomic_load(&ro->where)], atomic_load(&ro->ops));
	}
	fprintf(stderr, "   own channels: sent %" PRIu64 ", received %" PRIu64 "\n",
		atomic_load(&rd->local_sent), atomic_load(&rd->local_received));
}

/* Draw a round of about `budget` receipts. */
static void draw_round(struct round *rd, uint64_t *s, uint64_t budget)
{
	rd->threads = 2 + (int)below(s, MAX_THREADS - 1);
	rd->chans = 2 + (int)below(s, MAX_CHANS - 1);
	int senders[MAX_CHANS] = { 0 }, readers[MAX_CHANS] = { 0 };
	struct role *r = rd->role;
	int n = 0;
	/* Readers of each channel: a consumer, or a relay to a later one. */
	for (int c = 0; c < rd->chans; c++) {
		int k = 1 + (int)below(s, 2);
		for (int j = 0; j < k; j++, n++) {
			r[n] = (struct role){ .kind = CONSUMER, .in = { c }, .n_in = 1, .out = -1 };
			if (c + 1 < rd->chans && below(s, 2)) {
				r[n].kind = RELAY;
				r[n].out = c + 1 + (int)below(s, (uint64_t)(rd->chans - c - 1));
				senders[r[n].out]++;
			}
			readers[c]++;
		}
	}
	/* Selectors: 2 or 3 inputs, a channel of their own, and forwarding to
	 * a channel after all their inputs, if there is one, half the time. */
	int nsel = 1 + (int)below(s, (uint64_t)rd->threads);
	for (int j = 0; j < nsel && n < MAX_ROLES - MAX_CHANS; j++, n++) {
		struct role *ro = &r[n];
		*ro = (struct role){ .kind = SELECTOR, .out = -1 };
		int want = rd->chans >= 3 ? 2 + (int)below(s, 2) : 2, hi = 0;
		while (ro->n_in < want) {
			int c = (int)below(s, (uint64_t)rd->chans), dup = 0;
			for (int i = 0; i < ro->n_in; i++)
				dup |= ro->in[i] == c;
			if (dup)
				continue;
			ro->in[ro->n_in++] = c;
			readers[c]++;
			hi = c > hi ? c : hi;
		}
		if (hi + 1 < rd->chans && below(s, 2)) {
			ro->out = hi + 1 + (int)below(s, (uint64_t)(rd->chans - hi - 1));
			senders[ro->out]++;
		}
		ro->local_cap = (size_t)below(s, 5);
		ro->count = budget / 16 / (uint64_t)nsel + 1;
	}
	/* Producers: one or two per channel, at least one where nothing
	 * forwards to it. */
	int first_producer = n;
	for (int c = 0; c < rd->chans; c++) {
		int k = (int)below(s, 3);
		if (k == 0 && senders[c] == 0)
			k = 1;
		for (int j = 0; j < k && n < MAX_ROLES; j++, n++) {
			r[n] = (struct role){ .kind = PRODUCER, .out = c };
			senders[c]++;
		}
	}
	int producers = n - first_producer;
	uint64_t produced = 0;
	for (int i = first_producer; i < n; i++) {
		/* A message passes about two channels on average. */
		r[i].count = budget / 2 / (uint64_t)producers / 2 +
			     below(s, budget / 2 / (uint64_t)producers + 1);
		produced += r[i].count;
	}
	rd->roles = n;
	for (int c = 0; c < rd->chans; c++) {
		struct xchan *x = &rd->ch[c];
		CHECK(readers[c] > 0 && senders[c] > 0);
		x->id = (uint32_t)c;
		x->cap = (size_t)below(s, 5);
		x->ch = corun_chan_make_shared(sizeof(struct msg), x->cap);
		CHECK(x->ch != NULL);
		atomic_init(&x->senders, senders[c]);
		/* A message on any channel stands for one a producer made. */
		x->bound = produced;
		x->seen = calloc(produced / 64 + 1, sizeof *x->seen);
		CHECK(x->seen != NULL);
	}
	for (int i = 0; i < n; i++) {
		r[i].rd = rd;
		r[i].seed = splitmix(s);
		r[i].thread = (int)below(s, (uint64_t)rd->threads);
		rd->th[r[i].thread].roles++;
	}
	/* Half the threads' mains take a role of theirs. */
	for (int t = 0; t < rd->threads; t++)
		if (below(s, 2))
			for (int i = 0; i < n; i++)
				if (r[i].thread == t) {
					r[i].on_main = 1;
					break;
				}
}

static uint64_t check_round(struct round *rd)
{
	uint64_t total = 0;
	for (int c = 0; c < rd->chans; c++) {
		struct xchan *x = &rd->ch[c];
		uint64_t sent = atomic_load(&x->next), got = atomic_load(&x->received);
		if (sent != got)
			CHECK_FAIL("channel %d: %" PRIu64 " sent, %" PRIu64 " received", c, sent,
				   got);
		/* No duplicates (record checks), so every number below sent. */
		uint64_t ones = 0;
		for (uint64_t w = 0; w <= x->bound / 64; w++)
			ones += (uint64_t)__builtin_popcountll(atomic_load(&x->seen[w]));
		CHECK_EQ(ones, sent);
		CHECK_EQ(atomic_load(&x->senders), 0);
		CHECK_EQ(corun_chan_free(x->ch), 0);
		free(x->seen);
		total += got;
	}
	CHECK_EQ(atomic_load(&rd->local_sent), atomic_load(&rd->local_received));
	return total + atomic_load(&rd->local_received);
}

static uint64_t env_count(const char *name, uint64_t dflt)
{
	const char *e = getenv(name);
	return e && *e ? strtoull(e, NULL, 0) : dflt;
}

static void message_rounds(uint64_t total, uint64_t per_round)
{
	seed_init();
	uint64_t s = master_seed ^ 0x6d657373616765u, done = 0;
	double t0 = now_s();
	for (int n = 0; done < total; n++) {
		uint64_t round_seed = splitmix(&s), rs = round_seed;
		struct round *rd = calloc(1, sizeof *rd);
		CHECK(rd != NULL);
		draw_round(rd, &rs, per_round);
		struct thread_arg args[MAX_THREADS];
		for (int i = 0; i < rd->threads; i++)
			args[i] = (struct thread_arg){ rd, i };
		double t = now_s();
		watch(rd->threads, round_thread, args, rd->th, &rd->finished, dump_round, rd,
		      round_seed);
		uint64_t got = check_round(rd);
		done += got;
		fprintf(stderr,
			"   round %d: %d threads, %d channels, %d roles: %" PRIu64
			" messages in %.2f s\n",
			n, rd->threads, rd->chans, rd->roles, got, now_s() - t);
		free(rd);
	}
	fprintf(stderr, "   %" PRIu64 " messages in %.1f s\n", done, now_s() - t0);
}

static void messages(void)
{
	uint64_t total = env_count("CORUN_XSTRESS_MESSAGES", 200000);
	message_rounds(total, total / 16 + 1);
}

static void messages_long(void)
{
	message_rounds(env_count("CORUN_XSTRESS_MESSAGES", 10000000), 500000);
}

/* ---- shared mutexes and wait groups */

enum { MUTEXES = 3, PHASES = 4 };

struct guarded {           /* touched only under its mutex */
	uint64_t count, phase[PHASES];
	int inside;
};

struct sround {
	int threads, per_thread, participants, iters;
	uint64_t seed;
	corun_mutex *mu[MUTEXES];
	struct guarded g[MUTEXES];
	corun_wg *phase[PHASES];
	struct counters th[MAX_THREADS];
	_Atomic int finished;
};

struct part {
	struct sround *sr;
	int thread, id;
	uint64_t seed;
};

static void lock_retry(struct sround *sr, struct counters *c, int k, uint64_t *s)
{
	int r;
	while ((r = corun_mutex_lock(sr->mu[k], deadline(s))) < 0) {
		CHECK_EQ(errno, ETIMEDOUT);
		bump(&c->timeouts);
	}
}

static void *participate(void *arg)
{
	struct part *p = arg;
	struct sround *sr = p->sr;
	struct counters *c = &sr->th[p->thread];
	uint64_t s = p->seed;
	for (int ph = 0; ph < PHASES; ph++) {
		for (int i = 0; i < sr->iters; i++) {
			int k = (int)below(&s, MUTEXES);
			jitter(&s, c, 64);
			lock_retry(sr, c, k, &s);
			struct guarded *g = &sr->g[k];
			CHECK_EQ(g->inside, 0);
			g->inside = 1;
			if (below(&s, 16) == 0)
				jitter(&s, c, 4); /* held over a sleep or a park */
			CHECK_EQ(g->inside, 1);
			g->inside = 0;
			g->count++;
			g->phase[ph]++;
			CHECK_EQ(corun_mutex_unlock(sr->mu[k]), 0);
			bump(&c->moved);
		}
		CHECK_EQ(corun_wg_done(sr->phase[ph]), 0);
		while (corun_wg_wait(sr->phase[ph], deadline(&s)) < 0) {
			CHECK_EQ(errno, ETIMEDOUT);
			bump(&c->timeouts);
		}
		bump(&c->moved);
		/* Everyone's work of the phase is in. */
		uint64_t sum = 0;
		for (int k = 0; k < MUTEXES; k++) {
			lock_retry(sr, c, k, &s);
			sum += sr->g[k].phase[ph];
			CHECK_EQ(corun_mutex_unlock(sr->mu[k]), 0);
		}
		CHECK_EQ(sum, (uint64_t)sr->participants * (uint64_t)sr->iters);
	}
	atomic_fetch_add(&c->done, 1);
	return NULL;
}

static void *sync_thread(void *arg)
{
	struct thread_arg *ta = arg;
	struct sround *sr = ta->state;
	struct part p[MAX_THREADS];
	int on_main = 0;
	set_phase(&sr->th[ta->idx], P_STARTED);
	for (int i = 0; i < sr->per_thread; i++) {
		p[i] = (struct part){ sr, ta->idx, ta->idx * sr->per_thread + i,
				      sr->seed ^ (uint64_t)(ta->idx * 131 + i) };
		/* Main takes part in every other thread. */
		if (i == 0 && ta->idx % 2 == 1)
			on_main = 1;
		else
			CHECK(corun_go(participate, &p[i]) > 0);
	}
	set_phase(&sr->th[ta->idx], P_SPAWNED);
	if (on_main)
		participate(&p[0]);
	set_phase(&sr->th[ta->idx], P_RUNNING);
	CHECK_EQ(corun_run(), 0);
	set_phase(&sr->th[ta->idx], P_FINISHED);
	atomic_fetch_add(&sr->finished, 1);
	return NULL;
}

static void dump_sync(void *state)
{
	struct sround *sr = state;
	fprintf(stderr, "   %d threads, %d participants each, %d locks per phase\n", sr->threads,
		sr->per_thread, sr->iters);
}

static void sync_rounds(void)
{
	seed_init();
	uint64_t s = master_seed ^ 0x73796e63u;
	uint64_t total = env_count("CORUN_XSTRESS_LOCKS", 40000), done = 0;
	for (int n = 0; done < total; n++) {
		uint64_t round_seed = splitmix(&s), rs = round_seed;
		struct sround *sr = calloc(1, sizeof *sr);
		CHECK(sr != NULL);
		sr->seed = splitmix(&rs);
		sr->threads = 2 + (int)below(&rs, MAX_THREADS - 1);
		sr->per_thread = 1 + (int)below(&rs, 4);
		sr->participants = sr->threads * sr->per_thread;
		sr->iters = (int)(total / 4 / PHASES / (uint64_t)sr->participants) + 1;
		for (int k = 0; k < MUTEXES; k++)
			CHECK((sr->mu[k] = corun_mutex_make_shared()) != NULL);
		for (int ph = 0; ph < PHASES; ph++) {
			CHECK((sr->phase[ph] = corun_wg_make_shared()) != NULL);
			CHECK_EQ(corun_wg_add(sr->phase[ph], sr->participants), 0);
		}
		for (int i = 0; i < sr->threads; i++)
			sr->th[i].roles = sr->per_thread;
		struct thread_arg args[MAX_THREADS];
		for (int i = 0; i < sr->threads; i++)
			args[i] = (struct thread_arg){ sr, i };
		double t = now_s();
		watch(sr->threads, sync_thread, args, sr->th, &sr->finished, dump_sync, sr,
		      round_seed);
		uint64_t sum = 0;
		for (int k = 0; k < MUTEXES; k++) {
			CHECK_EQ(sr->g[k].inside, 0);
			sum += sr->g[k].count;
			CHECK_EQ(corun_mutex_free(sr->mu[k]), 0);
		}
		uint64_t want = (uint64_t)sr->participants * (uint64_t)sr->iters * PHASES;
		CHECK_EQ(sum, want);
		for (int ph = 0; ph < PHASES; ph++)
			CHECK_EQ(corun_wg_free(sr->phase[ph]), 0);
		done += want;
		fprintf(stderr, "   round %d: %d threads, %d participants: %" PRIu64
				" locks in %.2f s\n",
			n, sr->threads, sr->participants, want, now_s() - t);
		free(sr);
	}
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(messages),
		{ "sync", sync_rounds },
		TEST(messages_long),
	};
	/* With no names, the ordinary sizes (ctest names what it runs). */
	if (argc < 2) {
		char *def[] = { argv[0], "messages", "sync", NULL };
		return RUN_TESTS(3, def, tests);
	}
	return RUN_TESTS(argc, argv, tests);
}
