/*
 * Probe: cost of one switch, one direction, between the main context and one
 * coroutine that each switch from their own call site (so a `ret` switch is
 * mispredicted on every return), for each variant in probe_x86_64.S.
 * Also a "same call site" case: two coroutines that switch to each other
 * through one shared function, as a seed-style scheduler does.
 * Prints medians of 11 trials. Not a test: timings only.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

typedef void (*sw_fn)(void **save, void *to);
void probe_ret(void **, void *);
void probe_jmp(void **, void *);
void probe_jmp_stmxcsr(void **, void *);
void probe_jmp_fp(void **, void *);
void probe_ret_fp(void **, void *);

static void *main_sp, *co_sp, *co2_sp;
static sw_fn sw;
static volatile long iters;
static int fp_frame;

static void co_body(void)
{
	for (;;)
		sw(&co_sp, main_sp);
}

/* shared call site: both coroutines switch from here */
static __attribute__((noinline)) void same_site(void **save, void *to) { sw(save, to); }
static long remaining;
static void co_a(void)
{
	for (;;) {
		if (--remaining <= 0)
			sw(&co_sp, main_sp);
		same_site(&co_sp, co2_sp);
	}
}
static void co_b(void)
{
	for (;;)
		same_site(&co2_sp, co_sp);
}

static void *make(void (*fn)(void), int fp)
{
	size_t sz = 1 << 16;
	char *stk = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t *top = (uintptr_t *)(stk + sz - 64);
	/* frame: [fp] r15 r14 r13 r12 rbx rbp rip */
	*--top = 0;              /* alignment slot: rsp%16==8 at fn entry */
	*--top = (uintptr_t)fn;
	for (int i = 0; i < 6; i++)
		*--top = 0;
	if (fp) {
		uint32_t m;
		uint16_t cw;
		__asm__ volatile("stmxcsr %0" : "=m"(m));
		__asm__ volatile("fnstcw %0" : "=m"(cw));
		*--top = (uint64_t)m | ((uint64_t)cw << 32);
	}
	return top;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double pingpong(sw_fn f, int fp)
{
	sw = f;
	fp_frame = fp;
	co_sp = make(co_body, fp);
	long n = iters;
	double t0 = now();
	for (long i = 0; i < n; i++)
		sw(&main_sp, co_sp);
	return (now() - t0) / (2.0 * n);
}

static double sameSite(sw_fn f, int fp)
{
	sw = f;
	co_sp = make(co_a, fp);
	co2_sp = make(co_b, fp);
	remaining = iters;
	double t0 = now();
	sw(&main_sp, co_sp);
	return (now() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
	iters = argc > 1 ? atol(argv[1]) : 5000000;
	struct { const char *name; sw_fn f; int fp; } v[] = {
		{ "ret, 6 regs", probe_ret, 0 },
		{ "jmp, 6 regs", probe_jmp, 0 },
		{ "jmp, + stmxcsr", probe_jmp_stmxcsr, 1 },
		{ "jmp, + MXCSR & x87 CW", probe_jmp_fp, 1 },
		{ "ret, + MXCSR & x87 CW", probe_ret_fp, 1 },
	};
	enum { T = 11 };
	printf("%-26s %12s %14s\n", "variant", "main<->co", "same call site");
	for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
		double a[T], b[T];
		for (int t = 0; t < T; t++) {
			a[t] = pingpong(v[k].f, v[k].fp);
			b[t] = sameSite(v[k].f, v[k].fp);
		}
		qsort(a, T, sizeof a[0], cmp);
		qsort(b, T, sizeof b[0], cmp);
		printf("%-26s %9.2f ns %11.2f ns\n", v[k].name, a[T / 2], b[T / 2]);
	}
	return 0;
}
