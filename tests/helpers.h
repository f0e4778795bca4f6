/*
 * What more than one test program needs, kept once (helpers.c, linked into
 * every test program): the runner that lets a program run one test by name,
 * coroutine bodies that several tests spawn, child processes and threads to
 * run a test's part in, and readers of the process's memory and mappings.
 */
#ifndef CORUN_TEST_HELPERS_H
#define CORUN_TEST_HELPERS_H

#include "check.h"

#include <corun.h>
#include <stddef.h>
#include <stdint.h>

#define MS ((int64_t)1000000) /* one millisecond, in corun's nanoseconds */

/* ---- running a program's tests */
struct test {
	const char *name;
	void (*fn)(void);
};
#define TEST(fn) { #fn, fn }

/*
 * With no argument, run every test in the table's order; otherwise run the
 * tests named, in the order given (so each can be checked alone, or after
 * others it does not usually follow); "--list" prints the names. Each is
 * announced on stderr, so a failure says which one it was in. Returns the
 * program's exit status.
 */
int run_tests(int argc, char **argv, const struct test *tests, size_t n);
#define RUN_TESTS(argc, argv, table)                                          \
	run_tests(argc, argv, table, sizeof(table) / sizeof((table)[0]))

/* ---- coroutine bodies */
void *ret_arg(void *arg);                 /* returns arg */
void *park_once(void *arg);               /* parks once, returns arg */
void *park_n(void *arg);                  /* parks (intptr_t)arg times, returns arg */
void *block_forever(void *arg);           /* blocked with nothing to wake it */
void *join_forever(void *handle);         /* joins *(corun_t *)handle, which never ends */

/* Spawn two coroutines that join each other: blocked for good once they
 * have run. pair must stay where it is until then (each reads the other's
 * handle there when it starts). */
void join_cycle(corun_t pair[2]);

/* A join_cycle, run until corun_run finds it deadlocked: the calling
 * thread's runtime then holds two coroutines blocked for good. */
void deadlock_here(void);

/* Spawn fn(arg), let it run until it waits (one step of the scheduler from
 * main), cancel it and join it: fn checks that its wait failed with
 * ECANCELED. Returns its handle, stale now. */
corun_t cancel_waiting(corun_fn fn, void *arg);

/* corun_go_attr with this stack size (0: the default) and flags; the spawn
 * must succeed. */
corun_t spawn_with(corun_fn fn, void *arg, size_t stack_size, unsigned flags);

/* Start the calling thread's runtime afresh: its previous one (if any) is
 * shut down, which needs every coroutine in it to have ended. For tests
 * that look at the runtime's tables or memory from their first state. */
void fresh_runtime(void);

/* Does each stack cost mappings of its own (the mprotect guard fallback:
 * kernels before 6.13, and qemu-user, whose madvise installs no guard)?
 * Then vm.max_map_count caps the coroutines alive near 32 thousand.
 * Measured by spawning a few on a fresh runtime, as a program would find. */
int guards_take_mappings(size_t stack_size);

/* ---- elsewhere: a thread, a child process */
/* Run fn(arg) on a new thread; join it and return what fn returned. Its
 * runtime (if fn made one) goes with the thread, coroutines left in it
 * included: the way for a test to leave coroutines blocked for good
 * without leaving them to the tests after it. */
void *on_thread(void *(*fn)(void *), void *arg);

struct child {
	int signaled, sig; /* killed by signal sig */
	int exited, code;  /* or exited with status code */
	char err[4096];    /* the start of what it wrote to stderr */
	char report[256];  /* what it sent with child_report */
};

/* Run fn in a child process (which exits 0 if fn returns) and say how it
 * ended and what it wrote. */
void run_child(struct child *c, void (*fn)(void));

/* In a child of run_child: send the parent a line, apart from stderr. */
void child_report(const char *line);

/* Run fn in a child process that must exit 0: what it exhausts or breaks
 * stays there. Its stderr is passed on. */
void in_child(void (*fn)(void));

/* Can a child of fork(2), forked while this process has other threads,
 * start threads of its own? Not under qemu-user (its thread setup asserts
 * in such a child: CORUN_TEST_EMULATED is set for every test of a cross
 * build), where it says so on stderr and returns 0. */
int threads_after_fork(void);

/* The calling thread's I/O backend (CORUN_IO_EPOLL or CORUN_IO_URING),
 * chosen by a descriptor call first if it has none yet. */
int io_backend(void);

/* ---- memory and time */
long count_mappings(void); /* lines of /proc/self/maps */

/* How many of this process's mappings overlap any of the n ranges
 * [base[i], base[i] + len[i]). */
long count_mappings_in(void *const *base, const size_t *len, size_t n);

/* Whether the page holding p is mapped. */
int is_mapped(const void *p);

size_t vm_bytes(void);  /* address space mapped (statm's size) */
size_t rss_bytes(void); /* resident (statm's resident) */
size_t status_bytes(const char *field); /* a "kB" line of /proc/self/status */

double now_s(void); /* CLOCK_MONOTONIC, in seconds */

/* Sanitizers and valgrind map memory of their own at any malloc, so exact
 * counts of all the process's mappings are only checked without them. */
#if defined(UNDER_SANITIZER)
#define EXACT_MAPPINGS 0
#else
#define EXACT_MAPPINGS (!RUNNING_ON_VALGRIND)
#endif

#endif
