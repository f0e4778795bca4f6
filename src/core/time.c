/*
 * Time: the clocks, deadlines in a 4-ary min-heap, and sleeping (time.h).
 *
 * A 4-ary heap rather than a timer wheel: adding and withdrawing are
 * O(log n) with no tuning of slot widths or levels, deadlines are exact
 * nanoseconds, and a wheel's O(1) only pays when very many timers fire or
 * are withdrawn per tick (bench/: "timers" rows, 1 and 1,000,000 pending).
 * Four children per node halve the height of a binary heap and keep a
 * node's children in one cache line of pointers. Ties go to the earlier
 * armed (seq), so equal deadlines fire in FIFO order.
 */
#include "time.h"
#include "wait.h"
#include "../failpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

int64_t corun_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void corun__timers_fini(struct corun__timers *t)
{
	free(t->heap);
	t->heap = NULL;
	t->n = t->cap = 0;
}

/* ---- the heap ---- */

static int earlier(const struct corun__timer *a, const struct corun__timer *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(struct corun__rt *rt, size_t i, struct corun__timer *t)
{
	rt->timers.heap[i] = t;
	t->idx = i;
}

static void sift_up(struct corun__rt *rt, size_t i, struct corun__timer *t)
{
	while (i > 0) {
		size_t parent = (i - 1) / 4;
		if (!earlier(t, rt->timers.heap[parent]))
			break;
		place(rt, i, rt->timers.heap[parent]);
		i = parent;
	}
	place(rt, i, t);
}

static void sift_down(struct corun__rt *rt, size_t i, struct corun__timer *t)
{
	size_t n = rt->timers.n;
	for (;;) {
		size_t first = 4 * i + 1, best = i;
		struct corun__timer *min = t;
		for (size_t c = first; c < first + 4 && c < n; c++)
			if (earlier(rt->timers.heap[c], min))
				min = rt->timers.heap[c], best = c;
		if (best == i)
			break;
		place(rt, i, min);
		i = best;
	}
	place(rt, i, t);
}

static void heap_remove(struct corun__rt *rt, struct corun__timer *t)
{
	size_t i = t->idx;
	struct corun__timer *last = rt->timers.heap[--rt->timers.n];
	if (last == t)
		return;
	if (i > 0 && earlier(last, rt->timers.heap[(i - 1) / 4]))
		sift_up(rt, i, last);
	else
		sift_down(rt, i, last);
}

static void withdraw_deadline(struct corun__rt *rt, struct corun__waiter *w)
{
	heap_remove(rt, (struct corun__timer *)w);
}

int corun__arm_timer(struct corun__rt *rt, struct corun__timer *t, int id, int64_t deadline)
{
	if (rt->timers.n == rt->timers.cap) {
		size_t cap = rt->timers.cap ? 2 * rt->timers.cap : 64;
		struct corun__timer **h =
			corun__realloc(CORUN__FAIL_TIMER_HEAP, rt->timers.heap, cap * sizeof *h);
		if (!h) {
			errno = ENOMEM;
			return -1;
		}
		rt->timers.heap = h;
		rt->timers.cap = cap;
	}
	t->deadline = deadline;
	t->seq = rt->timers.seq++;
	corun__arm(rt, &t->w, id, withdraw_deadline);
	sift_up(rt, rt->timers.n++, t);
	/* Main, waiting aside in corun__drive, must take turns in the ring
	 * now, or busy coroutines could keep it from ever firing this. */
	if (rt->main.state == CORUN__BLOCKED)
		corun__make_ready(&rt->sched, &rt->main);
	return 0;
}

/* ---- firing ---- */

/* The coarse clock lags the monotonic one by at most its resolution (a
 * tick), and costs a quarter as much: when the nearest deadline is further
 * than that beyond it, nothing has expired and the precise clock is not
 * read. */
static int64_t coarse_res;
static pthread_once_t coarse_once = PTHREAD_ONCE_INIT;

static void read_coarse_res(void)
{
	struct timespec r;
	coarse_res = clock_getres(CLOCK_MONOTONIC_COARSE, &r) == 0
			     ? (int64_t)r.tv_sec * 1000000000 + r.tv_nsec
			     : 1000000000;
}

int corun__timers_fire_until(struct corun__rt *rt, int64_t now)
{
	int fired = 0;
	while (rt->timers.n && rt->timers.heap[0]->deadline <= now) {
		struct corun__timer *t = rt->timers.heap[0];
		heap_remove(rt, t);
		if (!corun__claim(t->w.co)) {
			t->w.withdraw = NULL; /* a firer won; off the heap already */
			continue;
		}
		corun__fire(rt, &t->w, ETIMEDOUT);
		fired = 1;
	}
	return fired;
}

int corun__timers_fire(struct corun__rt *rt)
{
	if (!rt->timers.n)
		return 0;
	pthread_once(&coarse_once, read_coarse_res);
	if (rt->timers.heap[0]->deadline > corun__coarse_now() + coarse_res)
		return 0;
	return corun__timers_fire_until(rt, corun_now());
}

/* ---- sleeping ---- */

int corun_sleep_until(int64_t deadline)
{
	if (corun__deadline_check(deadline) < 0)
		return -1;
	struct corun__rt *rt = corun__rt_get_or_make();
	if (!rt || corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt)) {
		corun__budget_yield(rt);
		if (corun__may_block(rt) < 0)
			return -1;
	}
	if (deadline >= 0 && deadline <= corun_now())
		return 0; /* already passed (0 included: do not block) */
	struct corun__timer t;
	if (deadline < 0) /* never: a waiter nothing fires, so cancellation can */
		corun__arm(rt, &t.w, 0, NULL);
	else if (corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0)
		return -1;
	int err;
	int id = corun__wait(rt, deadline < 0 ? CORUN__WAIT_FOREVER : CORUN__WAIT_SLEEP,
			     (uint64_t)deadline, &err);
	if (id == CORUN__ID_DEADLINE)
		return 0;
	errno = err;
	return -1;
}

int corun_sleep(int64_t ns)
{
	if (ns < 0) {
		errno = EINVAL;
		return -1;
	}
	int64_t now = corun_now();
	return corun_sleep_until(ns > INT64_MAX - now ? -1 : now + ns);
}
