/*
 * libFuzzer target for the corun runtime.
 *
 * The input is a program of runtime operations, read through one shared
 * byte cursor by the thread's main context and by every coroutine: whoever
 * runs reads the next operation. Each input runs in a fresh OS thread, so
 * its runtime is created by the first spawn, kept while idle, and released
 * by corun_shutdown or by the thread-exit destructor, even when coroutines
 * are left blocked forever in a cycle of joins (LeakSanitizer sees it if
 * not).
 *
 * A model of every coroutine (spawned, ended, joined or detached, who joins
 * whom) is kept alongside. It is updated by whoever acts, at the moment it
 * acts (a coroutine marks itself ended right before it returns), so it never
 * guesses the order the scheduler picks. After every operation check() holds
 * the runtime to the model: corun_count, handle validity and errno, ids,
 * names, results, and, white box, the handle table and the ready ring.
 *
 * Encoding (see make_corpus.py, which writes the seeds):
 *   main op, byte % 8:      coroutine op, byte % 8:
 *     0,1 spawn  ATTR         0,1,7 park
 *     2,7 park                2     spawn ATTR
 *     3   join   HANDLE       3     join   HANDLE
 *     4   detach HANDLE       4     detach HANDLE
 *     5   run                 5     end (return its result)
 *     6   misc   SUB          6     misc   SUB
 *   ATTR bits: 0-1 stack size (MIN, 2*MIN, 64 KiB), 2 detached, 3 named,
 *              4 long name (cut to CORUN_NAME_MAX - 1), 5 CORUN_FPCTL
 *   HANDLE: % (spawned + 5): a handle ever issued in this input, else -1,
 *           0, made up, a mangled real one, one from the previous input
 * When the bytes run out every coroutine returns as soon as it runs; main
 * runs what can run, joins every result left and checks the end state.
 */
#include <corun.h>

#include "../src/core/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define FZ_ASAN 1
#endif
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The checks are not what is fuzzed: their comparisons would only slow every
 * step down (most of the time went to coverage callbacks) and add features
 * that mean nothing. The library they call stays instrumented. */
#if defined(__clang__) && __clang_major__ >= 13
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

#define MAX_CO 64     /* coroutines spawned per input, at most */
#define MAX_BYTES 4096 /* of an input, read at most */
#define NONE (-2)
#define MAIN (-1)
#define RESULT(i) ((void *)(uintptr_t)(0x5eed0000u + (unsigned)(i)))

struct mco {
	corun_t h;
	int64_t id;
	void *result;        /* what it returns: fixed at spawn */
	void *join_res;      /* where its own corun_join stores */
	int joiner;          /* NONE, MAIN or a model index */
	int waiting_on;      /* whom it is joining (blocked), or NONE */
	unsigned runs;       /* times it got the CPU */
	uint8_t ended;       /* its body returned */
	uint8_t stale;       /* its handle must be refused (ESRCH) */
	uint8_t detached;
	char name[CORUN_NAME_MAX];
};

/* Per input. Only the input's thread touches it while it runs; no
 * coroutine keeps an address-taken local (ASan would leave the frames of
 * those blocked forever poisoned), so everything addressable is here. */
static struct {
	const uint8_t *data;
	size_t size, pos;
	struct mco co[MAX_CO];
	int n;            /* spawned so far */
	int live;         /* spawned and not ended */
	int has_rt;       /* spawned since the start or the last shutdown */
	int64_t last_id;
	corun_attr attr;
	void *main_res;
	char namebuf[64];
	uint8_t seen[MAX_CO];
	uint8_t inring[MAX_CO];
	unsigned runs0[MAX_CO];
} g;

static corun_t foreign; /* a handle of the previous input's thread */

/* ---- failure: no stdio, little stack (coroutines have 16 KiB) */

static void say(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t r = write(2, s, n);
		if (r <= 0)
			return;
		s += r;
		n -= (size_t)r;
	}
}

static void say_num(uint64_t v)
{
	char b[24];
	int k = (int)sizeof b;
	b[--k] = '\0';
	do
		b[--k] = (char)('0' + v % 10);
	while ((v /= 10) && k > 0);
	say(b + k);
}

static _Noreturn void fail(int line, const char *what)
{
	int e = errno;
	say("fuzz_runtime.c:");
	say_num((uint64_t)line);
	say(": check failed: ");
	say(what);
	say(" (errno ");
	say_num((uint64_t)e);
	say(", input byte ");
	say_num(g.pos);
	say(" of ");
	say_num(g.size);
	say(")\n");
	__builtin_trap();
}

#define EXPECT(c)                                                             \
	do {                                                                  \
		if (!(c))                                                     \
			fail(__LINE__, #c);                                   \
	} while (0)
#define EXPECT_ERR(rc, e) EXPECT((rc) == -1 && errno == (e))

/* ---- the byte cursor */

static int next_byte(void)
{
	return g.pos < g.size ? g.data[g.pos++] : -1;
}

static unsigned arg_byte(void)
{
	int b = next_byte();
	return b < 0 ? 0u : (unsigned)b;
}

/* A handle choice: a model index (0 .. n-1), or n + k for the k-th kind of
 * handle that is no coroutine of this thread. */
static int pick(void)
{
	return (int)(arg_byte() % (unsigned)(g.n + 5));
}

static corun_t handle_of(int t)
{
	if (t < g.n)
		return g.co[t].h;
	switch (t - g.n) {
	case 0:
		return -1;
	case 1:
		return 0;
	case 2:
		return INT64_MAX; /* slot 2^24 - 1: never reached */
	case 3: /* a real one with its serial's top bit flipped */
		return g.n ? g.co[g.n - 1].h ^ ((corun_t)1 << 62) : 5;
	default: /* serials are unique in the process: foreign stays foreign */
		return foreign ? foreign : INT64_MIN;
	}
}

/* ---- white box */

/* The slot h names, as corun__slot_get finds it (which is not inlined at
 * -O1, and would then be instrumented). */
NOCOV static struct corun__slot *slot_of(struct corun__rt *rt, corun_t h)
{
	uint64_t v = (uint64_t)h;
	uint32_t idx = v & CORUN__SLOT_MASK;
	if (h <= 0 || idx >= rt->handles.n)
		return NULL;
	struct corun__slot *s = &rt->handles.slots[idx];
	if (s->state == CORUN__SLOT_FREE || s->serial != v >> CORUN__SLOT_BITS)
		return NULL;
	return s;
}

NOCOV static struct corun__co *record_of(struct corun__rt *rt, int i)
{
	struct corun__slot *s = slot_of(rt, g.co[i].h);
	EXPECT(s && s->state == CORUN__SLOT_LIVE);
	return s->u.co;
}

/* The runtime agrees with the model. self: MAIN or the running coroutine. */
NOCOV static void check(int self)
{
	int live = 0, pending = 0;
	for (int i = 0; i < g.n; i++) {
		if (!g.co[i].ended)
			live++;
		else if (!g.co[i].stale)
			pending++;
	}
	EXPECT(live == g.live);
	EXPECT(corun_count() == (size_t)live);

	errno = 0;
	corun_t me = corun_self();
	if (self == MAIN)
		EXPECT_ERR(me, EPERM);
	else
		EXPECT(me == g.co[self].h);

	struct corun__rt *rt = corun__tls;
	EXPECT((rt != NULL) == (g.has_rt != 0)); /* idle or not, it stays */
	if (live || pending)
		EXPECT(rt != NULL);
	if (!rt) {
		EXPECT(self == MAIN);
		for (int i = 0; i < g.n; i++) {
			EXPECT(g.co[i].stale);
			errno = 0;
			EXPECT_ERR(corun_id(g.co[i].h), ESRCH);
		}
		return;
	}

	EXPECT(rt->live == (size_t)live);
	EXPECT(rt->handles.used == (uint32_t)(live + pending));
	EXPECT(rt->current->state == CORUN__RUNNABLE);
	if (self == MAIN)
		EXPECT(rt->current == &rt->main);
	else
		EXPECT(rt->current == record_of(rt, self));

	/* The ready ring: at most every coroutine and main, each once, all
	 * runnable, never the one running. */
	size_t queued = rt->tail - rt->head;
	EXPECT(queued <= rt->live + 1);
	EXPECT(queued == 0 || queued <= rt->mask + 1);
	memset(g.seen, 0, sizeof g.seen);
	int main_seen = 0;
	for (size_t k = rt->head; k != rt->tail; k++) {
		struct corun__co *c = rt->ring[k & rt->mask];
		EXPECT(c != NULL);
		EXPECT(c->state == CORUN__RUNNABLE);
		EXPECT(c != rt->current);
		if (c == &rt->main) {
			EXPECT(!main_seen);
			main_seen = 1;
			continue;
		}
		uintptr_t i = (uintptr_t)c->arg;
		EXPECT(i < (uintptr_t)g.n);
		EXPECT(!g.co[i].ended);
		EXPECT(!g.seen[i]);
		EXPECT(record_of(rt, (int)i) == c);
		g.seen[i] = 1;
	}
	/* Main is running, or queued (parked), or blocked in a drive. */
	if (self != MAIN)
		EXPECT(rt->main.state == (main_seen ? CORUN__RUNNABLE : CORUN__BLOCKED));

	for (int i = 0; i < g.n; i++) {
		struct mco *m = &g.co[i];
		errno = 0;
		if (m->stale) {
			EXPECT_ERR(corun_id(m->h), ESRCH);
			EXPECT(corun_name(m->h) == NULL && errno == ESRCH);
			continue;
		}
		EXPECT(corun_id(m->h) == m->id);
		struct corun__slot *s = slot_of(rt, m->h);
		EXPECT(s != NULL);
		if (m->ended) { /* its result waits for a join */
			EXPECT(s->state == CORUN__SLOT_DONE);
			EXPECT(s->u.result == m->result);
			EXPECT(!m->detached);
			EXPECT(corun_name(m->h) == NULL && errno == ESRCH);
			continue;
		}
		EXPECT(s->state == CORUN__SLOT_LIVE);
		struct corun__co *c = s->u.co;
		EXPECT(c->slot == (uint32_t)(m->h & CORUN__SLOT_MASK));
		EXPECT(c->arg == (void *)(uintptr_t)i);
		EXPECT(c->detached == m->detached);
		const char *nm = corun_name(m->h);
		EXPECT(nm != NULL && strcmp(nm, m->name) == 0);
		if (m->joiner == NONE)
			EXPECT(c->joiner == NULL);
		else if (m->joiner == MAIN)
			EXPECT(c->joiner == &rt->main);
		else
			EXPECT(c->joiner == record_of(rt, m->joiner));
		if (c == rt->current)
			EXPECT(i == self);
		else if (c->state == CORUN__RUNNABLE)
			EXPECT(g.seen[i]); /* no lost wakeup */
		else
			EXPECT(c->state == CORUN__BLOCKED && m->waiting_on != NONE);
		if (m->waiting_on != NONE) {
			struct mco *t = &g.co[m->waiting_on];
			EXPECT(t->joiner == i);
			if (!t->ended)
				EXPECT(c->state == CORUN__BLOCKED);
		}
	}
}

/* After EDEADLK: nothing ready, every coroutine left waits on a live one. */
NOCOV static void check_stuck(void)
{
	struct corun__rt *rt = corun__tls;
	EXPECT(g.live > 0);
	EXPECT(rt != NULL && rt->head == rt->tail);
	for (int i = 0; i < g.n; i++) {
		struct mco *m = &g.co[i];
		if (m->ended)
			continue;
		EXPECT(m->waiting_on != NONE);
		EXPECT(!g.co[m->waiting_on].ended);
	}
}

/* ---- operations, from main (self == MAIN) or a coroutine */

static void *body(void *arg);

static void do_spawn(int self)
{
	static const size_t sizes[4] = { CORUN_STACK_MIN, 2 * CORUN_STACK_MIN,
					 (size_t)64 << 10, CORUN_STACK_MIN };
	unsigned b = arg_byte();
	if (g.n >= MAX_CO)
		return;
	int i = g.n;
	struct mco *m = &g.co[i];
	memset(m, 0, sizeof *m);
	m->joiner = NONE;
	m->waiting_on = NONE;
	m->result = RESULT(i);
	m->detached = (b & 4) != 0;

	EXPECT(corun_attr_init(&g.attr) == 0);
	g.attr.stack_size = sizes[b & 3];
	g.attr.flags = (m->detached ? CORUN_DETACHED : 0) | ((b & 32) ? CORUN_FPCTL : 0);
	if (b & 8) {
		const char *stem = (b & 16) ? "a-name-longer-than-thirty-one-bytes-" : "co";
		size_t k = strlen(stem);
		memcpy(g.namebuf, stem, k);
		g.namebuf[k++] = (char)('0' + i / 10);
		g.namebuf[k++] = (char)('0' + i % 10);
		g.namebuf[k] = '\0';
		memcpy(m->name, g.namebuf, CORUN_NAME_MAX - 1);
		m->name[CORUN_NAME_MAX - 1] = '\0';
		g.attr.name = g.namebuf;
	}

	errno = 0;
	corun_t h = corun_go_attr(body, (void *)(uintptr_t)i, &g.attr);
	EXPECT(h > 0);
	memset(g.namebuf, 'X', sizeof g.namebuf - 1); /* names are copied */
	for (int j = 0; j < g.n; j++)
		EXPECT(g.co[j].h != h);
	if (foreign)
		EXPECT(h != foreign);
	m->h = h;
	g.n++;
	g.live++;
	g.has_rt = 1;
	int64_t id = corun_id(h);
	EXPECT(id > g.last_id); /* increasing with spawn order in a thread */
	g.last_id = id;
	m->id = id;
	(void)self;
}

enum { E_STALE, E_SELF, E_DONE, E_BUSY, E_FREE };

static int classify(int t, int self)
{
	if (t >= g.n || g.co[t].stale)
		return E_STALE;
	if (t == self)
		return E_SELF;
	if (g.co[t].ended)
		return E_DONE;
	if (g.co[t].detached || g.co[t].joiner != NONE)
		return E_BUSY;
	return E_FREE;
}

static void do_join(int self, int t)
{
	corun_t h = handle_of(t);
	int e = classify(t, self);
	void **res = self == MAIN ? &g.main_res : &g.co[self].join_res;
	*res = (void *)(uintptr_t)0xbad;
	if (e == E_FREE) {
		g.co[t].joiner = self;
		if (self != MAIN)
			g.co[self].waiting_on = t;
	}
	errno = 0;
	int rc = corun_join(h, res);
	switch (e) {
	case E_STALE:
		EXPECT_ERR(rc, ESRCH);
		break;
	case E_SELF:
		EXPECT_ERR(rc, EDEADLK);
		break;
	case E_BUSY:
		EXPECT_ERR(rc, EINVAL);
		break;
	case E_DONE:
		EXPECT(rc == 0);
		EXPECT(*res == g.co[t].result);
		g.co[t].stale = 1;
		break;
	case E_FREE:
		if (self != MAIN) { /* parked until t ended, whatever ran meanwhile */
			g.co[self].runs++;
			g.co[self].waiting_on = NONE;
			EXPECT(rc == 0);
		}
		if (rc == 0) {
			EXPECT(g.co[t].ended && g.co[t].stale);
			EXPECT(*res == g.co[t].result);
		} else { /* main: nothing can run; t stays joinable */
			EXPECT(self == MAIN);
			EXPECT_ERR(rc, EDEADLK);
			EXPECT(!g.co[t].ended);
			g.co[t].joiner = NONE;
			check_stuck();
		}
		break;
	}
}

static void do_detach(int self, int t)
{
	corun_t h = handle_of(t);
	int e = classify(t, self);
	if (e == E_SELF) /* a coroutine may detach itself */
		e = g.co[t].detached || g.co[t].joiner != NONE ? E_BUSY : E_FREE;
	errno = 0;
	int rc = corun_detach(h);
	switch (e) {
	case E_STALE:
		EXPECT_ERR(rc, ESRCH);
		break;
	case E_BUSY:
		EXPECT_ERR(rc, EINVAL);
		break;
	case E_DONE: /* the result is dropped now */
		EXPECT(rc == 0);
		g.co[t].stale = 1;
		break;
	default:
		EXPECT(rc == 0);
		g.co[t].detached = 1;
		break;
	}
}

static void *nop(void *arg)
{
	return arg;
}

/* Spawns that must be refused with EINVAL, changing nothing. */
static void bad_spawns(void)
{
	errno = 0;
	EXPECT_ERR(corun_go(NULL, NULL), EINVAL);
	EXPECT_ERR(corun_attr_init(NULL), EINVAL);
	EXPECT(corun_attr_init(&g.attr) == 0);
	g.attr.stack_size = CORUN_STACK_MIN - 1;
	EXPECT_ERR(corun_go_attr(nop, NULL, &g.attr), EINVAL);
	g.attr.stack_size = CORUN_STACK_MAX + 1;
	EXPECT_ERR(corun_go_attr(nop, NULL, &g.attr), EINVAL);
	g.attr.stack_size = CORUN_STACK_MIN;
	g.attr.flags = 0x80;
	EXPECT_ERR(corun_go_attr(nop, NULL, &g.attr), EINVAL);
	memset(&g.attr, 0, sizeof g.attr); /* never initialised */
	g.attr.stack_size = CORUN_STACK_MIN;
	EXPECT_ERR(corun_go_attr(nop, NULL, &g.attr), EINVAL);
}

/* corun_park from main: everyone ready now runs exactly once; those made
 * ready or spawned meanwhile wait for the next round. */
static void main_park(void)
{
	struct corun__rt *rt = corun__tls;
	int n0 = g.n;
	memset(g.inring, 0, sizeof g.inring);
	if (rt)
		for (size_t k = rt->head; k != rt->tail; k++)
			g.inring[(uintptr_t)rt->ring[k & rt->mask]->arg] = 1;
	for (int i = 0; i < n0; i++)
		g.runs0[i] = g.co[i].runs;
	EXPECT(corun_park() == 0);
	for (int i = 0; i < g.n; i++) {
		unsigned before = i < n0 ? g.runs0[i] : 0;
		EXPECT(g.co[i].runs - before == (i < n0 ? g.inring[i] : 0u));
	}
}

static void main_run(void)
{
	errno = 0;
	int rc = corun_run();
	if (rc == 0) {
		EXPECT(g.live == 0);
		/* Idle or not, the runtime stays (check() holds it to has_rt). */
	} else {
		EXPECT_ERR(rc, EDEADLK);
		check_stuck();
	}
}

static void main_misc(void)
{
	switch (arg_byte() % 4) {
	case 0:
		bad_spawns();
		break;
	case 1: /* released only when nothing is left running */
		errno = 0;
		if (g.live) {
			EXPECT_ERR(corun_shutdown(), EBUSY);
		} else {
			EXPECT(corun_shutdown() == 0);
			EXPECT(corun__tls == NULL);
			g.has_rt = 0;
			for (int i = 0; i < g.n; i++)
				g.co[i].stale = 1; /* results dropped */
		}
		break;
	case 2:
		errno = 0;
		EXPECT_ERR(corun_self(), EPERM);
		break;
	default: /* a join that must not block: an ended or invalid one */
		for (int i = 0; i < g.n; i++)
			if (g.co[i].ended && !g.co[i].stale) {
				do_join(MAIN, i);
				break;
			}
		break;
	}
}

static void co_misc(int self)
{
	errno = 0;
	switch (arg_byte() % 5) {
	case 0:
		EXPECT_ERR(corun_run(), EPERM);
		break;
	case 1:
		EXPECT_ERR(corun_shutdown(), EPERM);
		break;
	case 2:
		do_join(self, self); /* EDEADLK */
		break;
	case 3:
		bad_spawns();
		break;
	default:
		EXPECT(corun_self() == g.co[self].h);
		break;
	}
}

/* Every coroutine. Nothing here takes the address of a local. */
static void *body(void *arg)
{
	int self = (int)(uintptr_t)arg;
	struct mco *m = &g.co[self];
	m->runs++;
	check(self);
	for (;;) {
		int b = next_byte();
		if (b < 0)
			break;
		switch (b % 8) {
		case 2:
			do_spawn(self);
			break;
		case 3:
			do_join(self, pick());
			break;
		case 4:
			do_detach(self, pick());
			break;
		case 5:
			goto out;
		case 6:
			co_misc(self);
			break;
		default: /* 0, 1, 7 */
			EXPECT(corun_park() == 0);
			m->runs++;
			break;
		}
		check(self);
	}
out:
	/* Ends now: the runtime frees the handle at once if someone joins it
	 * or it is detached, else keeps the result for a join. */
	m->ended = 1;
	if (m->joiner != NONE || m->detached)
		m->stale = 1;
	g.live--;
	return m->result;
}

static void program(void)
{
	for (;;) {
		int b = next_byte();
		if (b < 0)
			break;
		switch (b % 8) {
		case 0:
		case 1:
			do_spawn(MAIN);
			break;
		case 3:
			do_join(MAIN, pick());
			break;
		case 4:
			do_detach(MAIN, pick());
			break;
		case 5:
			main_run();
			break;
		case 6:
			main_misc();
			break;
		default: /* 2, 7 */
			main_park();
			break;
		}
		check(MAIN);
	}

	/* Out of bytes: whatever runs now ends at once. */
	main_run();
	check(MAIN);
	for (int i = 0; i < g.n; i++)
		if (g.co[i].ended && !g.co[i].stale) {
			do_join(MAIN, i);
			check(MAIN);
		}
	errno = 0;
	if (g.live == 0) {
		EXPECT(corun_run() == 0);
		EXPECT((corun__tls != NULL) == (g.has_rt != 0));
	} else {
		EXPECT_ERR(corun_run(), EDEADLK);
		check_stuck();
	}
	check(MAIN);

#ifdef FZ_ASAN
	/* The stacks of the coroutines blocked forever are unmapped at the
	 * thread's exit with their frames' redzones still poisoned. corun
	 * unpoisons the top 64 KiB of a stack when it spawns on it (all of ours);
	 * clearing them here too keeps a later mapping at the same address
	 * clean whatever the library does. */
	struct corun__rt *rt = corun__tls;
	for (int i = 0; rt && i < g.n; i++)
		if (!g.co[i].ended) {
			struct corun__co *c = record_of(rt, i);
			__asan_unpoison_memory_region(c->stack.lo, c->stack.size);
		}
#endif
}

static void *input_thread(void *arg)
{
	(void)arg;
	program();
	return NULL; /* the runtime, if any is left, is released at exit */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pthread_t t;
	memset(&g, 0, sizeof g);
	g.data = data;
	g.size = size < MAX_BYTES ? size : MAX_BYTES;
	if (pthread_create(&t, NULL, input_thread, NULL) != 0 || pthread_join(t, NULL) != 0) {
		say("fuzz_runtime: cannot run a thread\n");
		abort();
	}
	if (g.n > 0)
		foreign = g.co[g.n - 1].h;
	return 0;
}
