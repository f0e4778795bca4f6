/*
 * Coroutines in the model (fuzz.h): spawning, joining, detaching,
 * canceling, sleeping, main's park and run; waking a coroutine whatever it
 * waits on; and the checks of the ready ring and every coroutine's record.
 */
#include "fuzz.h"

#include <string.h>

/* ---- white box */

NOCOV struct corun_priv_co co_info(corun_t h)
{
	struct corun_priv_co c;
	corun_priv_co(h, &c);
	return c;
}

/* The model index of the live coroutine h (the runtime's record of it
 * carries it as its argument). */
NOCOV int model_of(corun_t h)
{
	EXPECT(h > 0);
	struct corun_priv_co c = co_info(h);
	uintptr_t i = (uintptr_t)c.arg;
	EXPECT(c.state == CORUN_PRIV_RUNNABLE || c.state == CORUN_PRIV_BLOCKED);
	EXPECT(i < (uintptr_t)g.n && g.co[i].h == h);
	return (int)i;
}

/* Coroutine i (live) waits in the runtime. */
NOCOV int co_blocked(int i)
{
	struct corun_priv_co c = co_info(g.co[i].h);
	EXPECT(c.state == CORUN_PRIV_RUNNABLE || c.state == CORUN_PRIV_BLOCKED);
	return c.state == CORUN_PRIV_BLOCKED;
}

static int popcount64(uint64_t v)
{
	return __builtin_popcountll(v);
}

/* The running one, the ready ring and every coroutine's record. */
NOCOV void check_cos(int self)
{
	corun_t running = corun_priv_running();
	EXPECT(running == (self == MAIN ? 0 : g.co[self].h));
	EXPECT(co_info(running).state == CORUN_PRIV_RUNNABLE);

	/* The ready ring: at most every coroutine and main, each once, all
	 * runnable, never the one running. */
	size_t queued = corun_priv_ready(g.who, MAX_CO + 1);
	EXPECT(queued <= (size_t)g.live + 1);
	EXPECT(queued == 0 || queued <= corun_priv_ring_cap());
	memset(g.seen, 0, sizeof g.seen);
	int main_seen = 0;
	for (size_t k = 0; k < queued; k++) {
		corun_t h = g.who[k];
		EXPECT(h >= 0);
		EXPECT(h != running);
		EXPECT(co_info(h).state == CORUN_PRIV_RUNNABLE);
		if (h == 0) {
			EXPECT(!main_seen);
			main_seen = 1;
			continue;
		}
		int i = model_of(h);
		EXPECT(!g.co[i].ended);
		EXPECT(!g.seen[i]);
		g.seen[i] = 1;
	}
	/* Main is running, or queued (parked, or taking turns while deadlines
	 * are pending), or blocked in a drive. */
	if (self != MAIN)
		EXPECT(co_info(0).state == (main_seen ? CORUN_PRIV_RUNNABLE : CORUN_PRIV_BLOCKED));
	else
		EXPECT(!g.main_blocked);

	for (int i = 0; i < g.n; i++) {
		struct mco *m = &g.co[i];
		errno = 0;
		if (m->stale) {
			EXPECT_ERR(corun_id(m->h), ESRCH);
			EXPECT(corun_name(m->h) == NULL && errno == ESRCH);
			continue;
		}
		EXPECT(corun_id(m->h) == m->id);
		struct corun_priv_co c = co_info(m->h);
		if (m->ended) { /* its result waits for a join */
			EXPECT(c.state == CORUN_PRIV_ENDED);
			EXPECT(c.result == m->result);
			EXPECT(!m->detached);
			EXPECT(!m->joiners && !m->main_joins);
			EXPECT(corun_name(m->h) == NULL && errno == ESRCH);
			continue;
		}
		EXPECT(c.state == CORUN_PRIV_RUNNABLE || c.state == CORUN_PRIV_BLOCKED);
		EXPECT(c.handle == m->h); /* its record's slot is h's */
		EXPECT(c.arg == (void *)(uintptr_t)i);
		EXPECT(c.detached == m->detached);
		EXPECT(c.canceled == m->canceled);
		const char *nm = corun_name(m->h);
		EXPECT(nm != NULL && strcmp(nm, m->name) == 0);
		/* Its joiners, each once. */
		size_t nj = corun_priv_joiners(m->h, g.who, MAX_CO + 1);
		EXPECT(nj <= MAX_CO + 1);
		for (size_t k = 0; k < nj; k++) {
			if (g.who[k] == 0) {
				EXPECT(m->main_joins);
			} else {
				int j = model_of(g.who[k]);
				EXPECT(m->joiners >> j & 1);
			}
		}
		EXPECT(nj == (size_t)(popcount64(m->joiners) + m->main_joins));
		if (m->h == running)
			EXPECT(i == self);
		else if (c.state == CORUN_PRIV_RUNNABLE)
			EXPECT(g.seen[i] && (!m->blocked || m->kind == K_SLEEP ||
					     m->kind == K_FD)); /* no lost wakeup */
		else
			EXPECT(c.state == CORUN_PRIV_BLOCKED && m->blocked);
		/* A descriptor call that waits does so in its slots; closing the
		 * descriptor under it must have made it return. */
		if (m->h != running && c.state == CORUN_PRIV_BLOCKED && m->kind == K_FD) {
			EXPECT(!m->fd_closed);
			check_fd_slots(i);
		}
		if (m->blocked && m->kind == K_JOIN) {
			struct mco *t = &g.co[m->waiting_on];
			EXPECT(!t->ended && (t->joiners >> i & 1));
		}
	}
}

/* After EDEADLK: nothing ready, nothing pending; every coroutine left waits
 * on a live one, on a channel, or on a wait group or a mutex. */
NOCOV void check_stuck(void)
{
	EXPECT(g.live > 0);
	EXPECT(corun_priv_runtime() != NULL && corun_priv_ready(NULL, 0) == 0 &&
	       corun_priv_timers() == 0);
	for (int i = 0; i < g.n; i++) {
		struct mco *m = &g.co[i];
		if (m->ended)
			continue;
		EXPECT(m->blocked && (m->kind == K_JOIN || m->kind == K_CHAN || m->kind == K_SYNC));
		if (m->kind == K_JOIN)
			EXPECT(!g.co[m->waiting_on].ended);
	}
}

/* ---- the model's side of waking */

/* Coroutine i's blocking call will return case cs with err (and val). */
void wake(int i, int cs, int err, int val)
{
	struct mco *m = &g.co[i];
	EXPECT(m->blocked);
	if (m->kind == K_JOIN)
		g.co[m->waiting_on].joiners &= ~((uint64_t)1 << i);
	if (m->kind == K_CHAN)
		chan_unqueue(i);
	if (m->kind == K_SYNC)
		sync_unqueue(i);
	m->blocked = 0;
	m->out_case = cs;
	m->out_err = err;
	m->out_val = val;
}

/* After a coroutine's call that blocked: it returns what the one who woke
 * it wrote down. */
void resumed(int self)
{
	struct mco *m = &g.co[self];
	EXPECT(!m->blocked);
	m->runs++;
}

int canceled(int self)
{
	return self != MAIN && g.co[self].canceled;
}

/* Coroutines in a descriptor call with deadline -1 (none can wait once
 * the descriptors are gone: those still inside a call fail with EBADF). */
int forever_waiters(void)
{
	int n = 0;
	if (g.fds_gone)
		return 0;
	for (int i = 0; i < g.n; i++)
		n += g.co[i].blocked && g.co[i].kind == K_FD && g.co[i].fd_forever;
	return n;
}

/* Coroutine self ends now: its joiners get the result and the handle goes
 * stale, or it is detached and goes stale, or the result waits for a join;
 * the mutexes it holds go to their next waiters. */
void co_end(int self)
{
	struct mco *m = &g.co[self];
	m->ended = 1;
	if (m->joiners || m->main_joins || m->detached)
		m->stale = 1;
	for (int j = 0; j < g.n; j++)
		if (m->joiners >> j & 1)
			wake(j, 0, 0, 0);
	m->joiners = 0;
	m->main_joins = 0;
	sync_orphans(self);
	g.live--;
}

/* ---- operations, from main (self == MAIN) or a coroutine */

void do_spawn(int self)
{
	static const size_t sizes[4] = { CORUN_STACK_MIN, 2 * CORUN_STACK_MIN,
					 (size_t)64 << 10, CORUN_STACK_MIN };
	unsigned b = arg_byte();
	if (g.n >= MAX_CO)
		return;
	int i = g.n;
	struct mco *m = &g.co[i];
	memset(m, 0, sizeof *m);
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

enum { E_STALE, E_SELF, E_DONE, E_DETACHED, E_LIVE, E_CANCELED };

static int classify(int t, int self)
{
	if (t >= g.n || g.co[t].stale)
		return E_STALE;
	if (t == self)
		return E_SELF;
	if (g.co[t].ended)
		return E_DONE;
	if (g.co[t].detached)
		return E_DETACHED;
	return E_LIVE;
}

/* corun_join (deadline -1), or corun_join_until with deadline 0. */
void do_join(int self, int t, int now)
{
	corun_t h = handle_of(t);
	int e = classify(t, self);
	void **res = self == MAIN ? &g.main_res : &g.co[self].join_res;
	*res = (void *)(uintptr_t)0xbad;
	/* Canceled: a join that is not a mistake fails, ended target or not. */
	if (canceled(self) && (e == E_DONE || e == E_LIVE))
		e = E_CANCELED;
	int blocks = e == E_LIVE && !now;
	if (blocks) {
		if (self == MAIN) {
			g.co[t].main_joins = 1;
		} else {
			g.co[t].joiners |= (uint64_t)1 << self;
			g.co[self].waiting_on = t;
			g.co[self].blocked = 1;
			g.co[self].kind = K_JOIN;
		}
	}
	errno = 0;
	if (self == MAIN)
		g.driving = blocks;
	int rc = now ? corun_join_until(h, res, 0) : corun_join(h, res);
	if (self == MAIN)
		g.driving = 0;
	switch (e) {
	case E_STALE:
		EXPECT_ERR(rc, ESRCH);
		break;
	case E_SELF:
		EXPECT_ERR(rc, EDEADLK);
		break;
	case E_DETACHED:
		EXPECT_ERR(rc, EINVAL);
		break;
	case E_CANCELED:
		EXPECT_ERR(rc, ECANCELED); /* t is left joinable */
		break;
	case E_DONE:
		EXPECT(rc == 0);
		EXPECT(*res == g.co[t].result);
		g.co[t].stale = 1;
		break;
	case E_LIVE:
		if (!blocks) {
			EXPECT_ERR(rc, ETIMEDOUT);
			break;
		}
		if (self != MAIN) { /* until t ended or we were canceled */
			struct mco *m = &g.co[self];
			m->runs++;
			m->waiting_on = NONE;
			EXPECT(!m->blocked);
			if (m->out_err) {
				EXPECT_ERR(rc, m->out_err);
				break;
			}
			EXPECT(rc == 0);
		}
		if (rc == 0) {
			EXPECT(g.co[t].ended && g.co[t].stale);
			EXPECT(*res == g.co[t].result);
		} else { /* main: nothing can run; t stays joinable */
			EXPECT(self == MAIN);
			EXPECT_ERR(rc, EDEADLK);
			EXPECT(!g.co[t].ended);
			g.co[t].main_joins = 0;
			check_stuck();
		}
		break;
	}
}

void do_detach(int self, int t)
{
	corun_t h = handle_of(t);
	int e = classify(t, self);
	if (e == E_SELF) /* a coroutine may detach itself */
		e = g.co[t].detached ? E_DETACHED : E_LIVE;
	if (e == E_LIVE && (g.co[t].joiners || g.co[t].main_joins))
		e = E_DETACHED; /* being joined: refused the same way */
	errno = 0;
	int rc = corun_detach(h);
	switch (e) {
	case E_STALE:
		EXPECT_ERR(rc, ESRCH);
		break;
	case E_DETACHED:
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

void do_cancel(int self, int t)
{
	corun_t h = handle_of(t);
	errno = 0;
	int rc = corun_cancel(h);
	if (t >= g.n || g.co[t].stale) {
		EXPECT_ERR(rc, ESRCH);
		return;
	}
	EXPECT(rc == 0);
	struct mco *m = &g.co[t];
	if (m->ended)
		return; /* nothing to cancel */
	m->canceled = 1;
	/* A sleeper whose deadline has fired is ready already: nothing left
	 * to interrupt, and its sleep returns 0 (do_sleep accepts both). So
	 * is a descriptor call that a report or its deadline has fired (white
	 * box: it no longer waits): it retries, and meets the cancellation
	 * only if it must wait again (do_fd_done). */
	if (t != self && m->blocked && m->kind == K_FD && !co_blocked(t))
		return;
	if (t != self && m->blocked && m->kind != K_SLEEP)
		wake(t, -1, ECANCELED, 0);
}

/* Coroutine sleeps: until 0 (returns at once), or for a few µs. */
void do_sleep(int self, unsigned arg)
{
	struct mco *m = &g.co[self];
	errno = 0;
	if (arg % 4 == 0) {
		int rc = corun_sleep_until(0);
		if (m->canceled)
			EXPECT_ERR(rc, ECANCELED);
		else
			EXPECT(rc == 0);
		return;
	}
	int was = m->canceled;
	if (!was) {
		m->blocked = 1;
		m->kind = K_SLEEP;
	}
	uint64_t armed = corun_priv_timers_armed();
	int rc = corun_sleep((int64_t)arg * 1000);
	m->blocked = 0;
	if (was) {
		EXPECT_ERR(rc, ECANCELED);
		return;
	}
	/* It waited only if its deadline had not passed by the time it looked
	 * (white box: it armed one). */
	if (corun_priv_timers_armed() != armed)
		m->runs++;
	/* Canceled while it slept: ECANCELED if the deadline had not fired. */
	EXPECT(rc == 0 || (m->canceled && errno == ECANCELED));
}

static void *nop(void *arg)
{
	return arg;
}

/* Spawns that must be refused with EINVAL, changing nothing. */
void bad_spawns(void)
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
 * ready or spawned meanwhile wait for the next round. Sleepers whose
 * deadline passes by then are made ready first, and may run once too. */
void main_park(void)
{
	int n0 = g.n;
	memset(g.inring, 0, sizeof g.inring);
	size_t queued = corun_priv_ready(g.who, MAX_CO + 1);
	for (size_t k = 0; k < queued && k < MAX_CO + 1; k++)
		g.inring[model_of(g.who[k])] = 1;
	for (int i = 0; i < n0; i++) {
		struct mco *m = &g.co[i];
		g.runs0[i] = m->runs;
		g.pready[i] = 0;
		if (m->blocked && m->kind == K_SLEEP)
			g.inring[i] |= 2; /* may wake now */
		if (!m->blocked || m->kind != K_FD)
			continue;
		/* A descriptor call counts no runs (it may wake and wait again
		 * unseen). One the kernel's wait holds while what it waits for
		 * is there must be fired by the park's look at the reports, and
		 * return, unless others change that buffer first. */
		g.inring[i] |= 4;
		if (g.has_rt && co_blocked(i))
			fd_ready_at_park(i);
	}
	EXPECT(corun_park() == 0);
	for (int i = 0; i < g.n; i++) {
		unsigned before = i < n0 ? g.runs0[i] : 0;
		unsigned ran = g.co[i].runs - before;
		unsigned want = i < n0 ? (g.inring[i] & 1u) : 0u;
		EXPECT(ran == want || (ran == 1 && i < n0 && (g.inring[i] & 2)) ||
		       (ran <= 1 && i < n0 && (g.inring[i] & 4)));
		if (i < n0 && g.pready[i] && !g.fds_gone && g.buf[g.pverB[i]].ver == g.pverA[i])
			EXPECT(!g.co[i].blocked || g.co[i].kind != K_FD ||
			       g.co[i].fd_serial != g.pserial[i]);
	}
}

void main_run(void)
{
	if (forever_waiters()) { /* it would block the thread for good */
		main_park();
		return;
	}
	errno = 0;
	g.driving = 1;
	int rc = corun_run();
	g.driving = 0;
	if (rc == 0) {
		EXPECT(g.live == 0);
		/* Idle or not, the runtime stays (check() holds it to has_rt). */
	} else {
		EXPECT_ERR(rc, EDEADLK);
		check_stuck();
	}
}
