/*
 * Wait groups and mutexes in the model (fuzz.h): one wait group and two
 * mutexes, made at their first use like the channels; adds, waits, locks,
 * unlocks and frees, from main or a coroutine; a holder's end handing its
 * mutexes on (EOWNERDEAD); and the end of an input, which must leave none
 * held and nobody waiting, so that they can be freed.
 *
 * Their queues are not read white box (sync.c keeps its structs to itself):
 * the model is held to the runtime by every call's result, and by check(),
 * which finds every coroutine the model has waiting blocked and every one it
 * has woken not, so that a mutex handed to another waiter than the oldest,
 * or a waiter left behind, is caught at the next step.
 */
#include "fuzz.h"

#include <string.h>

static struct mwg *wg_of(void)
{
	struct mwg *w = &g.wg;
	if (!w->wg) {
		memset(w, 0, sizeof *w);
		w->wg = corun_wg_make();
		EXPECT(w->wg != NULL);
		g.has_rt = 1;
	}
	return w;
}

static struct mmu *mu_of(unsigned k)
{
	struct mmu *mu = &g.mu[k & 1];
	if (!mu->mu) {
		memset(mu, 0, sizeof *mu);
		mu->mu = corun_mutex_make();
		EXPECT(mu->mu != NULL);
		g.has_rt = 1;
	}
	return mu;
}

/* Main, waiting (-1) in a wait group or mutex call, is woken: what its
 * call will return. */
static void main_woken(int err)
{
	EXPECT(g.main_blocked);
	g.main_blocked = 0;
	g.main_err = err;
}

/* Take coroutine i (or MAIN) off the wait group and every mutex's line. */
void sync_unqueue(int i)
{
	if (i == MAIN)
		g.wg.main_waits = 0;
	else
		g.wg.waiters &= ~((uint64_t)1 << i);
	for (int k = 0; k < NMU; k++) {
		struct mmu *mu = &g.mu[k];
		int w = 0;
		for (int j = 0; j < mu->nq; j++)
			if (mu->q[j] != i)
				mu->q[w++] = mu->q[j];
		mu->nq = w;
	}
}

/* A call that waited has returned: the error it must return. A coroutine's
 * was written by whoever woke it (or canceled it); main's too, or, if
 * nobody woke it, nothing could run (EDEADLK) and its wait is withdrawn. */
static int waited(int self)
{
	if (self != MAIN) {
		resumed(self);
		return g.co[self].out_err;
	}
	if (!g.main_blocked)
		return g.main_err;
	g.main_blocked = 0;
	sync_unqueue(MAIN);
	if (g.live)
		check_stuck();
	return EDEADLK;
}

/* self is about to wait in a wait group or mutex call. */
static void blocks_now(int self)
{
	if (self == MAIN) {
		g.main_blocked = 1;
		g.main_err = -1;
		return;
	}
	g.co[self].blocked = 1;
	g.co[self].kind = K_SYNC;
}

/* ---- wait groups */

static int64_t delta_of(unsigned a)
{
	static const int64_t d[8] = { 1, 2, 3, -1, -2, 0, INT64_MAX, INT64_MIN };
	return d[a % 8];
}

/* corun_wg_add(delta), or corun_wg_done. At zero, every waiter wakes. */
static void do_wg_add(int64_t delta, int done)
{
	struct mwg *w = wg_of();
	errno = 0;
	int rc = done ? corun_wg_done(w->wg) : corun_wg_add(w->wg, delta);
	if (done)
		delta = -1;
	if (delta < 0 ? delta < -w->count : w->count > INT64_MAX - delta) {
		EXPECT_ERR(rc, EINVAL); /* left as it was */
		return;
	}
	EXPECT(rc == 0);
	w->count += delta;
	if (w->count)
		return;
	for (int i = 0; i < g.n; i++)
		if (w->waiters >> i & 1)
			wake(i, 0, 0, 0);
	if (w->main_waits) {
		w->main_waits = 0;
		main_woken(0);
	}
	EXPECT(!w->waiters);
}

/* Around a call that may block: main drives the scheduler while it waits
 * (the descriptor model asks g.driving), and the call's result must be the
 * model's. call_end returns the error the call was to fail with (0: none),
 * which a wake the call waited for decides. */
static void call_begin(int self, int blocks)
{
	errno = 0;
	if (self == MAIN)
		g.driving = blocks;
}

static int call_end(int self, int blocks, int want, int rc)
{
	if (self == MAIN)
		g.driving = 0;
	if (blocks)
		want = waited(self);
	if (want)
		EXPECT_ERR(rc, want);
	else
		EXPECT(rc == 0);
	return want;
}

static void do_wg_wait(int self, int wait)
{
	struct mwg *w = wg_of();
	int blocks = 0, want = 0;
	if (canceled(self))
		want = ECANCELED; /* counter zero or not */
	else if (w->count == 0)
		want = 0;
	else if (!wait)
		want = ETIMEDOUT;
	else
		blocks = 1;
	if (blocks) {
		if (self == MAIN)
			w->main_waits = 1;
		else
			w->waiters |= (uint64_t)1 << self;
		blocks_now(self);
	}
	call_begin(self, blocks);
	int rc = corun_wg_wait(w->wg, wait ? -1 : 0);
	call_end(self, blocks, want, rc);
}

/* ---- mutexes */

/* mu goes to its oldest waiter, whose lock returns err; or, with none, it
 * is free. */
static void pass_on(struct mmu *mu, int err)
{
	if (!mu->nq) {
		mu->locked = 0;
		return;
	}
	int w = mu->q[0];
	memmove(&mu->q[0], &mu->q[1], (size_t)(mu->nq - 1) * sizeof mu->q[0]);
	mu->nq--;
	mu->holder = w;
	if (w == MAIN)
		main_woken(err);
	else
		wake(w, 0, err, 0);
}

static void do_lock(int self, struct mmu *mu, int wait)
{
	int blocks = 0, want = 0;
	if (mu->locked && mu->holder == self)
		want = EDEADLK; /* before a cancellation is looked at */
	else if (canceled(self))
		want = ECANCELED;
	else if (!mu->locked) { /* taken now */
		mu->locked = 1;
		mu->holder = self;
		want = mu->abandoned ? EOWNERDEAD : 0;
		mu->abandoned = 0;
	} else if (!wait)
		want = ETIMEDOUT;
	else
		blocks = 1;
	if (blocks) {
		EXPECT(mu->nq < MAX_CO + 1);
		mu->q[mu->nq++] = self;
		blocks_now(self);
	}
	call_begin(self, blocks);
	int rc = corun_mutex_lock(mu->mu, wait ? -1 : 0);
	want = call_end(self, blocks, want, rc);
	if (!want || want == EOWNERDEAD) /* it holds it */
		EXPECT(mu->locked && mu->holder == self);
}

static void do_unlock(int self, struct mmu *mu)
{
	errno = 0;
	int rc = corun_mutex_unlock(mu->mu);
	if (!mu->locked || mu->holder != self) {
		EXPECT_ERR(rc, EPERM);
		return;
	}
	EXPECT(rc == 0);
	pass_on(mu, 0);
}

/* Coroutine self has ended: each mutex it held goes to its next waiter,
 * who is told (EOWNERDEAD), or is left free for the next lock to be told. */
void sync_orphans(int self)
{
	for (int k = 0; k < NMU; k++) {
		struct mmu *mu = &g.mu[k];
		if (!mu->mu || !mu->locked || mu->holder != self)
			continue;
		if (mu->nq) {
			pass_on(mu, EOWNERDEAD);
		} else {
			mu->locked = 0;
			mu->abandoned = 1;
		}
	}
}

/* ---- freeing */

/* Free the wait group (bit 3 of s) or mutex M. One never made is NULL,
 * which frees nothing. */
static void do_free(unsigned s)
{
	errno = 0;
	if (s & 8) {
		struct mwg *w = &g.wg;
		int rc = corun_wg_free(w->wg);
		if (w->wg && (w->waiters || w->main_waits)) {
			EXPECT_ERR(rc, EBUSY);
			return;
		}
		EXPECT(rc == 0);
		w->wg = NULL;
		return;
	}
	struct mmu *mu = &g.mu[(s >> 4) & 1];
	int rc = corun_mutex_free(mu->mu);
	if (mu->mu && mu->locked) {
		EXPECT_ERR(rc, EBUSY);
		return;
	}
	EXPECT(rc == 0);
	mu->mu = NULL;
}

/* A SYNC byte (and DELTA), from main or a coroutine. */
void do_sync(int self, unsigned s)
{
	int wait = (s >> 3) & 1;
	if (self == MAIN && forever_waiters())
		wait = 0; /* it would block the thread for good */
	switch (s % 8) {
	case 0:
		do_wg_add(delta_of(arg_byte()), 0);
		break;
	case 1:
		do_wg_add(-1, 1);
		break;
	case 2:
		do_wg_wait(self, wait);
		break;
	case 3:
		do_free(s);
		break;
	case 4:
	case 5:
		do_lock(self, mu_of(s >> 4), wait);
		break;
	default:
		do_unlock(self, mu_of(s >> 4));
		break;
	}
}

/* ---- the end of an input */

static int busy(void)
{
	if (g.wg.wg && g.wg.waiters)
		return 1;
	for (int k = 0; k < NMU; k++)
		if (g.mu[k].mu && g.mu[k].locked)
			return 1;
	return 0;
}

/* With no bytes left, coroutines end as soon as they run. Main lets go of
 * what it holds, brings the counter to zero if some wait for it, and
 * cancels each coroutine that holds a mutex (blocked for good, or it would
 * have ended): its end hands the mutex on, and whoever gets it ends too. */
void sync_release(void)
{
	for (int round = 0; busy(); round++) {
		EXPECT(round <= MAX_CO + 1);
		for (int k = 0; k < NMU; k++)
			if (g.mu[k].mu && g.mu[k].locked && g.mu[k].holder == MAIN) {
				do_unlock(MAIN, &g.mu[k]);
				check(MAIN);
			}
		if (g.wg.wg && g.wg.waiters) {
			do_wg_add(-g.wg.count, 0);
			check(MAIN);
		}
		for (int k = 0; k < NMU; k++)
			if (g.mu[k].mu && g.mu[k].locked && g.mu[k].holder != MAIN &&
			    g.co[g.mu[k].holder].blocked) {
				do_cancel(MAIN, g.mu[k].holder);
				check(MAIN);
			}
		main_run();
		check(MAIN);
	}
}

/* Free them all (before the runtime goes: shutdown, the input's end):
 * nobody waits on them then, and only main may hold a mutex. */
void sync_free(void)
{
	for (int k = 0; k < NMU; k++) {
		struct mmu *mu = &g.mu[k];
		if (mu->mu && mu->locked)
			do_unlock(MAIN, mu);
		do_free((unsigned)k << 4);
	}
	do_free(8);
}
