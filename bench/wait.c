/*
 * Waiting: channel ping-pong (unbuffered and buffered, without and with a
 * deadline that is armed and withdrawn every time), select over 1, 4 and
 * 16 channels, sleeps that fire with 1 and with 1,000,000 other deadlines
 * pending, and what 10,000 sleeping coroutines cost in CPU. Go's channel
 * ping-pong (GOMAXPROCS=1) runs beside, from bench/go/, when Go is there.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <corun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---- ping-pong: a message one way is a send and a receive */
static struct {
	corun_chan *ab, *ba;
	long n;
	int deadline; /* arm a far deadline on every call (withdrawn) */
	double t;
} pp;

static int64_t dl(void)
{
	return pp.deadline ? corun_now() + 1000000000000 : -1;
}

static void *pinger(void *arg)
{
	(void)arg;
	long v = 0;
	double t0 = now_ns();
	for (long i = 0; i < pp.n; i++) {
		if (corun_chan_send(pp.ab, &v, dl()) < 0 || corun_chan_recv(pp.ba, &v, dl()) < 0)
			abort();
		v++;
	}
	pp.t = (now_ns() - t0) / (2.0 * (double)pp.n);
	return NULL;
}

static void *ponger(void *arg)
{
	(void)arg;
	long v;
	for (long i = 0; i < pp.n; i++)
		if (corun_chan_recv(pp.ab, &v, dl()) < 0 || corun_chan_send(pp.ba, &v, dl()) < 0)
			abort();
	return NULL;
}

void bench_chan_pingpong(size_t capacity, int deadline, struct samples *out)
{
	pp.ab = corun_chan_make(sizeof(long), capacity);
	pp.ba = corun_chan_make(sizeof(long), capacity);
	pp.deadline = deadline;
	for (int t = -1; t < cfg.trials; t++) { /* t = -1: warm-up */
		pp.n = iters(t < 0 ? 100000 : 1000000);
		corun_go(pinger, NULL);
		corun_go(ponger, NULL);
		if (corun_run() < 0)
			abort();
		if (t >= 0)
			add_sample(out, pp.t);
	}
	corun_chan_free(pp.ab);
	corun_chan_free(pp.ba);
}

/* ---- select over k channels: a sender picks one at random each time */
static struct {
	corun_chan *ch[16];
	int k;
	long n;
	double t;
} sl;

static void *selector(void *arg)
{
	(void)arg;
	long v;
	corun_case cs[16];
	for (int i = 0; i < sl.k; i++)
		cs[i] = (corun_case){ sl.ch[i], CORUN_RECV, &v, 0 };
	double t0 = now_ns();
	for (long i = 0; i < sl.n; i++)
		if (corun_select(cs, (size_t)sl.k, -1) < 0)
			abort();
	sl.t = (now_ns() - t0) / (double)sl.n;
	return NULL;
}

static void *sl_sender(void *arg)
{
	(void)arg;
	uint32_t x = 1;
	for (long i = 0; i < sl.n; i++) {
		x = x * 1664525u + 1013904223u;
		long v = i;
		if (corun_chan_send(sl.ch[(x >> 16) % (uint32_t)sl.k], &v, -1) < 0)
			abort();
	}
	return NULL;
}

/* ns per select that waits and is woken by a send on one of k channels
 * (the send and the switches included). */
void bench_select(int k, struct samples *out)
{
	sl.k = k;
	for (int i = 0; i < k; i++)
		sl.ch[i] = corun_chan_make(sizeof(long), 0);
	for (int t = -1; t < cfg.trials; t++) {
		sl.n = iters(t < 0 ? 50000 : 500000);
		corun_go(selector, NULL);
		corun_go(sl_sender, NULL);
		if (corun_run() < 0)
			abort();
		if (t >= 0)
			add_sample(out, sl.t);
	}
	for (int i = 0; i < k; i++)
		corun_chan_free(sl.ch[i]);
}

/* ---- timers */
static struct {
	long n;
	double t;
} tm;

static void *sleeper_loop(void *arg)
{
	(void)arg;
	double t0 = now_ns();
	for (long i = 0; i < tm.n; i++)
		if (corun_sleep(1) < 0) /* 1 ns: armed, then fired at the next look */
			abort();
	tm.t = (now_ns() - t0) / (double)tm.n;
	return NULL;
}

static void *sleep_far(void *arg)
{
	(void)arg;
	corun_sleep(INT64_C(3600) * 1000000000); /* an hour: canceled long before */
	return NULL;
}

struct timer_args {
	long pending;
};

struct timer_result {
	double fires, withdrawn, plain;
};

/* In a fresh process: `pending` coroutines asleep for an hour, then the
 * figures: ns per sleep that fires (arm, block, fire, resume), and ns per
 * message of ping-pong with a deadline on every call (armed and withdrawn)
 * and without. */
static void timers_child(void *arg, void *result)
{
	const struct timer_args *ta = arg;
	struct timer_result *r = result;
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = CORUN_STACK_MIN;
	corun_t *far = malloc((size_t)ta->pending * sizeof *far);
	if (!far)
		abort();
	for (long i = 0; i < ta->pending; i++)
		far[i] = corun_go_attr(sleep_far, NULL, &a);
	corun_park(); /* each arms its deadline */
	tm.n = iters(200000);
	corun_go(sleeper_loop, NULL);
	while (corun_count() > (size_t)ta->pending)
		corun_park();
	r->fires = tm.t;
	pp.ab = corun_chan_make(sizeof(long), 0);
	pp.ba = corun_chan_make(sizeof(long), 0);
	for (int d = 0; d < 2; d++) {
		pp.deadline = d;
		pp.n = iters(300000);
		corun_go(pinger, NULL);
		corun_go(ponger, NULL);
		while (corun_count() > (size_t)ta->pending)
			corun_park();
		*(d ? &r->withdrawn : &r->plain) = pp.t;
	}
	for (long i = 0; i < ta->pending; i++)
		corun_cancel(far[i]);
	corun_run();
	free(far);
}

void bench_timers(long pending, struct samples *fires, struct samples *withdrawn,
		  struct samples *plain)
{
	struct timer_args ta = { pending };
	int trials = pending > 100000 ? 3 : cfg.trials;
	for (int t = 0; t < trials; t++) {
		struct timer_result r;
		if (in_child(timers_child, &ta, &r, sizeof r) < 0)
			continue;
		add_sample(fires, r.fires);
		add_sample(withdrawn, r.withdrawn);
		add_sample(plain, r.plain);
	}
}

/* ---- idle: n coroutines asleep for `secs`: the process's CPU time */
static void *sleep_secs(void *arg)
{
	corun_sleep((int64_t)(intptr_t)arg * 1000000000);
	return NULL;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) * 1e-6;
}

struct idle_args {
	long n;
	int secs;
};

static void idle_child(void *arg, void *result)
{
	const struct idle_args *ia = arg;
	double *r = result;
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = CORUN_STACK_MIN;
	a.flags = CORUN_DETACHED;
	for (long i = 0; i < ia->n; i++)
		corun_go_attr(sleep_secs, (void *)(intptr_t)ia->secs, &a);
	corun_park(); /* all asleep */
	double c0 = cpu_s();
	corun_run();
	r[0] = (cpu_s() - c0) * 1e3;
}

/* ms of CPU for n coroutines asleep for secs seconds (their spawn and first
 * run not counted). */
double bench_idle(long n, int secs)
{
	struct idle_args ia = { n, secs };
	double ms = -1;
	if (in_child(idle_child, &ia, &ms, sizeof ms) < 0)
		return -1;
	return ms;
}

/* ---- Go's channel ping-pong, when Go is installed */
int bench_go_pingpong(double *unbuffered, double *buffered)
{
	if (system("command -v go >/dev/null 2>&1") != 0)
		return 0;
	char dir[] = "/tmp/corun-go-XXXXXX";
	if (!mkdtemp(dir))
		return 0;
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "cd %s && cp '%s/go/pingpong.go' . && HOME=%s GOCACHE=%s/cache GOFLAGS=-mod=mod "
		 "go build -o pingpong pingpong.go 2>&1 && GOMAXPROCS=1 ./pingpong %ld",
		 dir, CORUN_BENCH_DIR, dir, dir, iters(2000000));
	FILE *p = popen(cmd, "r");
	int got = 0;
	if (p) {
		char line[256];
		while (fgets(line, sizeof line, p)) {
			double v;
			if (sscanf(line, "unbuffered %lf", &v) == 1)
				*unbuffered = v, got |= 1;
			else if (sscanf(line, "buffered %lf", &v) == 1)
				*buffered = v, got |= 2;
			else
				fputs(line, stderr);
		}
		pclose(p);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return got == 3;
}
