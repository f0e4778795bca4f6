/*
 * corun's benchmark suite: shared declarations. Each benchmark returns
 * per-trial samples; the harness (bench.c) prints medians with min and max
 * and writes every row to a CSV.
 */
#ifndef CORUN_BENCH_H
#define CORUN_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { MAX_TRIALS = 31 };

struct samples {
	int n;
	double v[MAX_TRIALS];
};

/* Run-wide settings, from the command line. */
struct config {
	int trials;      /* samples per measurement */
	int quick;       /* smoke-test sizes (CI) */
	double scale;    /* multiplies iteration counts */
};
extern struct config cfg;

double now_ns(void);
long iters(long full);               /* full * scale, at least 1 */
void add_sample(struct samples *s, double v);
double median(const struct samples *s);

/* Print a row (the median of s, in unit) and keep it for the CSV. */
void report(const char *bench, const char *impl, const char *param,
	    const struct samples *s, const char *unit);
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Resident memory of this process: VmRSS + VmPTE, in bytes; and the number
 * of its kernel mappings. */
size_t resident_bytes(void);
long mapping_count(void);

/* baselines.c: ns per iteration of 6 independent register adds, a loop
 * bound by the core's throughput only. */
void bench_calibrate(struct samples *out);

/* switching.c */
void bench_corun_switch(struct samples *raw, struct samples *park2, struct samples *park2_fp);
void bench_corun_park(long n, size_t stack, struct samples *out);
void bench_corun_spawn(struct samples *join1, struct samples *detached);

/* churn.c */
long churn_total(long b); /* coroutines per trial for batches of b */
void bench_corun_churn(long b, size_t stack, int joined, struct samples *out, double *faults);
double bench_threads(int nthreads, long b);
void bench_growth(long n, size_t stack, struct samples *corun, struct samples *floor);
void bench_give_back(long n, int advice, double *madv_ns, double *refault_ns, double *left_b);

/* wait.c */
void bench_chan_pingpong(size_t capacity, int deadline, struct samples *out);
void bench_select(int k, struct samples *out);
void bench_timers(long pending, struct samples *fires, struct samples *withdrawn,
		  struct samples *plain);
double bench_idle(long n, int secs);
int bench_go_pingpong(double *unbuffered, double *buffered);

/* baselines.c */
void bench_ucontext_switch(struct samples *out);
void bench_ucontext_spawn(struct samples *out);
void bench_pthread_switch(struct samples *out);

/* boost.cpp (only when Boost.Context is available) */
int boost_available(void);
void bench_boost_switch(struct samples *out);
void bench_boost_spawn(struct samples *out);
/* Bytes resident per suspended context (1 KiB of stack touched each), or
 * -1 when the stacks could not be had. */
double bench_boost_memory(long n, size_t stack);
/* Churn in batches of b on stacks from a free list that never trims. */
void bench_boost_churn(long b, size_t stack, struct samples *out);

/* memory.c: each in a child process of its own */
struct mem_result {
	double bytes_per;  /* resident + page tables per coroutine */
	long mappings;     /* kernel mappings added */
	int ok;
};
struct mem_result bench_corun_memory(long n, size_t stack);
struct capacity_result {
	long count;
	double gib;        /* resident + page tables at that count */
	char why[96];      /* what stopped it */
};
struct capacity_result bench_corun_capacity(size_t stack, long max_count, double max_gib);
/* Run fn(arg) in a child process; copy its result (size bytes) back. */
int in_child(void (*fn)(void *arg, void *result), void *arg, void *result, size_t size);

#ifdef __cplusplus
}
#endif

#endif
