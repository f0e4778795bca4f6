/*
 * What the cross-thread benchmarks (baselines.c, corun_threads.c) share:
 * their command line, two threads pinned to two CPUs, medians, and the one
 * line each measurement prints ("name value unit"), which run.sh reads.
 */
#ifndef CORUN_BENCH_THREADS_HARNESS_H
#define CORUN_BENCH_THREADS_HARNESS_H

#include <stdint.h>

enum { MAX_REPS = 64 }; /* --reps is refused above this */

struct harness {
	int quick;    /* smoke-test sizes (CI) */
	long n;       /* messages (or calls) per repetition; 0: the default */
	int reps;     /* repetitions; 0: the default */
	int same_cpu; /* both threads on one CPU */
	int cpu[2];   /* the two CPUs, chosen by harness_init */
};
extern struct harness H;

/* One subcommand: its name and what it runs. */
struct shape {
	const char *name;
	void (*run)(void);
	const char *what;
	int alone; /* run only when named, not by "all" */
};

/* Parse "SUBCOMMAND [--quick] [--n N] [--reps R] [--same-cpu]" and run
 * the subcommand ("all": every shape in turn). Returns the exit status. */
int harness_main(int argc, char **argv, const char *prog, const struct shape *shapes);

int64_t now_ns(void);
/* Sizes: --n if given, else quick or full; repetitions likewise. */
long size_of(long full, long quick);
int reps_of(void);

/* Pin the calling thread to H.cpu[which] (0 or 1). */
void pin(int which);

/* Run a(arg) on a thread pinned to H.cpu[0] and b(arg) on one pinned to
 * H.cpu[1]; both start together, after pinning (start_together). */
void run_pair(void *(*a)(void *), void *(*b)(void *), void *arg);
void start_together(void);

/* The median of v[0..n) (v is reordered). */
double median_of(double *v, int n);

/* Print "name value unit", with digits that suit the value. */
void report(const char *name, double value, const char *unit);

#endif
