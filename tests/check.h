/*
 * Assertions for corun's tests: each prints what it compared, both values,
 * and file:line, then ends the test program with status 1. Never compiled
 * out. Each test program is its own process (CTest runs them one by one).
 */
#ifndef CORUN_TEST_CHECK_H
#define CORUN_TEST_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the test runs under, for the few checks that must differ there. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(UNDER_TSAN)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define CHECK_FAIL(...)                                                       \
	do {                                                                  \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);               \
		fprintf(stderr, __VA_ARGS__);                                 \
		fputc('\n', stderr);                                          \
		exit(1);                                                      \
	} while (0)

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond))                                                  \
			CHECK_FAIL("CHECK(%s) failed", #cond);                \
	} while (0)

#define CHECK_EQ(a, b)                                                        \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		if (a_ != b_)                                                 \
			CHECK_FAIL("%s == %s failed: %lld != %lld", #a, #b,   \
				   a_, b_);                                   \
	} while (0)

#define CHECK_PTR_EQ(a, b)                                                    \
	do {                                                                  \
		const void *a_ = (const void *)(a), *b_ = (const void *)(b);  \
		if (a_ != b_)                                                 \
			CHECK_FAIL("%s == %s failed: %p != %p", #a, #b, a_,   \
				   b_);                                       \
	} while (0)

#define CHECK_STR_EQ(a, b)                                                    \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                        \
			CHECK_FAIL("%s == %s failed: \"%s\" != \"%s\"", #a,   \
				   #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} while (0)

/* expr must fail: return -1 (or NULL, for CHECK_NULL_ERRNO) with errno e. */
#define CHECK_ERRNO(expr, e)                                                  \
	do {                                                                  \
		errno = 0;                                                    \
		long long r_ = (long long)(expr);                             \
		int e_ = errno;                                               \
		if (r_ != -1 || e_ != (e))                                    \
			CHECK_FAIL("%s: expected -1 with %s, got %lld with "  \
				   "errno %d (%s)", #expr, #e, r_, e_,        \
				   strerror(e_));                             \
	} while (0)

#define CHECK_NULL_ERRNO(expr, e)                                             \
	do {                                                                  \
		errno = 0;                                                    \
		const void *r_ = (expr);                                      \
		int e_ = errno;                                               \
		if (r_ != NULL || e_ != (e))                                  \
			CHECK_FAIL("%s: expected NULL with %s, got %p with "  \
				   "errno %d (%s)", #expr, #e, r_, e_,        \
				   strerror(e_));                             \
	} while (0)

/* Run one test function, naming it, so a failure says where it was.
 * (helpers.h's run_tests does this from a table, and can also run one test
 * alone, by name.) */
#define RUN(test)                                                             \
	do {                                                                  \
		fprintf(stderr, "-- %s\n", #test);                            \
		test();                                                       \
	} while (0)

/* Install h as this process's SIGSEGV handler (SA_SIGINFO), as a program's
 * own crash handler would be. Header-only: programs that do not link the
 * test helpers (tests/unload's host) use it too. */
#include <signal.h>
static inline void install_segv_handler(void (*h)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	CHECK_EQ(sigaction(SIGSEGV, &sa, NULL), 0);
}

#endif
