/*
 * Checked mode (src/core/checked.c), against corun_checked: the library
 * built with CORUN__CHECKED. Each breach of the switch's contract is made
 * in a child process with CORUN_CHECK=1 set before its runtime is made; the
 * parent checks the one line the child wrote to stderr, naming the right
 * coroutine, and that it died of SIGABRT. A correct program runs clean
 * under the checks, and without CORUN_CHECK they do not run at all.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include "priv.h" /* white box: stacks, saved stack pointers, checked mode */

#include <corun.h>
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* In a child: a runtime of its own, made now, with CORUN_CHECK as given
 * (NULL: unset). One the parent made before the fork goes first. */
static void runtime_with_check(const char *value)
{
	if (value)
		CHECK_EQ(setenv("CORUN_CHECK", value, 1), 0);
	else
		CHECK_EQ(unsetenv("CORUN_CHECK"), 0);
	fresh_runtime();
	CHECK(corun_go(ret_arg, NULL) > 0); /* makes it */
	CHECK_EQ(corun_run(), 0);
	CHECK(corun_priv_runtime() != NULL);
}

static corun_t spawn_named(corun_fn fn, void *arg, const char *name, unsigned flags)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = CORUN_STACK_MIN;
	a.name = name;
	a.flags = flags;
	corun_t h = corun_go_attr(fn, arg, &a);
	CHECK(h > 0);
	return h;
}

/* In the child: tell the parent the start of the line to expect. */
static void expect(corun_t h, const char *name, const char *what)
{
	char line[256];
	snprintf(line, sizeof line, "corun: checked: coroutine %lld \"%s\" %s",
		 (long long)corun_id(h), name, what);
	child_report(line);
}

/* The child must have written the line it reported, once, and died of
 * SIGABRT. */
static void dies_reporting(void (*child)(void))
{
	struct child d;
	run_child(&d, child);
	CHECK(d.report[0] != '\0');
	const char *at = strstr(d.err, d.report);
	if (!at)
		CHECK_FAIL("expected on stderr: %s\ngot: %s", d.report, d.err);
	CHECK(strstr(at + 1, "corun: checked:") == NULL); /* one line */
	CHECK(strchr(at, '\n') != NULL);
	fprintf(stderr, "  reported: %.*s\n", (int)(strchr(at, '\n') - at), at);
	if (!d.signaled)
		CHECK_FAIL("the child exited with %d; stderr: %s", d.code, d.err);
	CHECK_EQ(d.sig, SIGABRT);
}

/* The child must have ended well, and written no report. */
static void runs_clean(void (*child)(void))
{
	struct child d;
	run_child(&d, child);
	if (strstr(d.err, "corun: checked:"))
		CHECK_FAIL("not expected on stderr: %s", d.err);
	if (d.signaled)
		CHECK_FAIL("the child died of signal %d; stderr: %s", d.sig, d.err);
	CHECK(d.exited);
	if (d.code != 0)
		CHECK_FAIL("the child exited with %d; stderr: %s", d.code, d.err);
}

/* ---- 1: the FP control state changed without CORUN_FPCTL */
static void *round_up_and_park(void *arg)
{
	(void)arg;
	CHECK_EQ(fesetround(FE_UPWARD), 0);
	corun_park();
	CHECK_EQ(fesetround(FE_TONEAREST), 0);
	return NULL;
}

static void child_fp_changed(void)
{
	runtime_with_check("1");
	CHECK(corun_go(park_n, (void *)(intptr_t)3) > 0); /* someone to park to */
	corun_t h = spawn_named(round_up_and_park, NULL, "rounder", 0);
	expect(h, "rounder", "changed the floating-point control state without CORUN_FPCTL (0x");
	corun_run();
}

static void fp_change_reported(void)
{
	dies_reporting(child_fp_changed);
}

/* The same, by a coroutine that ends without putting the state back: its
 * last switch is checked too. */
static void *round_down_and_end(void *arg)
{
	(void)arg;
	CHECK_EQ(fesetround(FE_DOWNWARD), 0);
	return NULL;
}

static void child_fp_changed_at_end(void)
{
	runtime_with_check("1");
	corun_t h = spawn_named(round_down_and_end, NULL, "ender", CORUN_DETACHED);
	expect(h, "ender", "changed the floating-point control state without CORUN_FPCTL (0x");
	corun_run();
}

static void fp_change_at_end_reported(void)
{
	dies_reporting(child_fp_changed_at_end);
}

/* ---- 2: a saved stack pointer outside its stack */
static corun_t victim;

static void *note_self_and_park(void *arg)
{
	victim = corun_self();
	corun_park();
	return arg;
}

/* Where the victim's stack lies: its lowest byte, its size in *size. */
static char *victim_stack(size_t *size)
{
	char *lo = corun_priv_stack(victim, size);
	CHECK(lo != NULL);
	return lo;
}

static void child_bad_sp(void)
{
	runtime_with_check("1");
	corun_t h = spawn_named(note_self_and_park, NULL, "victim", 0);
	CHECK_EQ(corun_park(), 0); /* from main: it runs until it parks */
	size_t size;
	char *lo = victim_stack(&size);
	corun_priv_set_saved_sp(victim, lo - 64); /* in the guard page below */
	expect(h, "victim", "has a saved stack pointer ");
	corun_run();
}

static void bad_saved_sp_reported(void)
{
	dies_reporting(child_bad_sp);
}

/* Above the stack: in its neighbour, or in the record's own line. */
static void child_bad_sp_above(void)
{
	runtime_with_check("1");
	corun_t h = spawn_named(note_self_and_park, NULL, "above", 0);
	CHECK_EQ(corun_park(), 0);
	size_t size;
	char *lo = victim_stack(&size);
	corun_priv_set_saved_sp(victim, lo + size);
	expect(h, "above", "has a saved stack pointer ");
	corun_run();
}

static void bad_saved_sp_above_reported(void)
{
	dies_reporting(child_bad_sp_above);
}

/* ---- 3: the canary at the low end of the stack */
static void *clobber_low_end_and_park(void *arg)
{
	(void)arg;
	size_t size;
	memset(corun_priv_stack(corun_self(), &size), 0x5a, 16);
	corun_park();
	return NULL;
}

static void child_canary_own(void)
{
	runtime_with_check("1");
	CHECK(corun_go(park_n, (void *)(intptr_t)3) > 0);
	corun_t h = spawn_named(clobber_low_end_and_park, NULL, "clobber", 0);
	expect(h, "clobber", "has a broken canary at the low end of its stack");
	corun_run();
}

static void canary_of_leaving_reported(void)
{
	dies_reporting(child_canary_own);
}

/* Written by someone else while it was suspended: caught as it is resumed,
 * naming the one whose stack it is. */
static void child_canary_resumed(void)
{
	runtime_with_check("1");
	corun_t h = spawn_named(note_self_and_park, NULL, "resumed", 0);
	CHECK_EQ(corun_park(), 0);
	size_t size;
	victim_stack(&size)[0] ^= 1;
	expect(h, "resumed", "has a broken canary at the low end of its stack");
	corun_run();
}

static void canary_of_resumed_reported(void)
{
	dies_reporting(child_canary_resumed);
}

/* ---- a correct program runs clean under the checks */
struct sharer {
	int want;        /* the rounding mode main runs with */
	corun_chan *ch;
	corun_wg *wg;
};

static void *sharer_body(void *arg)
{
	struct sharer *s = arg;
	for (int i = 0; i < 20; i++) {
		CHECK_EQ(fegetround(), s->want);
		/* Changing it is allowed if it is put back before a switch. */
		CHECK_EQ(fesetround(FE_UPWARD), 0);
		CHECK_EQ(fesetround(s->want), 0);
		int v = i;
		CHECK_EQ(corun_chan_send(s->ch, &v, -1), 0);
		CHECK_EQ(corun_park(), 0);
	}
	corun_wg_done(s->wg);
	return NULL;
}

static void *fpctl_body(void *arg)
{
	struct sharer *s = arg;
	CHECK_EQ(fesetround(FE_DOWNWARD), 0); /* its own: allowed */
	for (int i = 0; i < 50; i++) {
		CHECK_EQ(corun_park(), 0);
		CHECK_EQ(fegetround(), FE_DOWNWARD);
		if (i == 10) /* a sharer spawned from here runs with main's */
			CHECK(corun_go(sharer_body, s) > 0);
		if (i % 7 == 0)
			CHECK_EQ(corun_sleep(1000), 0);
	}
	return NULL;
}

static void *collector(void *arg)
{
	struct sharer *s = arg;
	int v, n = 0;
	while (corun_chan_recv(s->ch, &v, -1) == 0)
		n++;
	return (void *)(intptr_t)n;
}

static void *closer(void *arg)
{
	struct sharer *s = arg;
	CHECK_EQ(corun_wg_wait(s->wg, -1), 0);
	CHECK_EQ(corun_chan_close(s->ch), 0);
	return NULL;
}

static void correct_program(int mode)
{
	CHECK_EQ(fesetround(mode), 0); /* main's own: the sharers' from now on */
	struct sharer s = { mode, corun_chan_make(sizeof(int), 4), corun_wg_make() };
	CHECK(s.ch && s.wg);
	corun_t f = spawn_named(fpctl_body, &s, "fpctl", CORUN_FPCTL);
	corun_t c = spawn_named(collector, &s, "collector", 0);
	CHECK_EQ(corun_wg_add(s.wg, 9), 0); /* 8 here, 1 from fpctl_body */
	for (int i = 0; i < 8; i++)
		CHECK(corun_go_attr(sharer_body, &s, NULL) > 0);
	CHECK(corun_go(closer, &s) > 0);
	for (int i = 0; i < 100; i++) /* and parks from main */
		CHECK(corun_go(park_n, (void *)(intptr_t)(i % 5)) > 0);
	CHECK_EQ(corun_park(), 0);
	void *n;
	CHECK_EQ(corun_join(c, &n), 0);
	CHECK_EQ((intptr_t)n, 9 * 20);
	CHECK_EQ(corun_join(f, NULL), 0);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(fegetround(), mode);
	corun_chan_free(s.ch);
	CHECK_EQ(corun_wg_free(s.wg), 0);
}

static void child_correct(void)
{
	runtime_with_check("1");
	CHECK_EQ(corun_priv_checked(), 1); /* the checks are on */
	correct_program(FE_TONEAREST);
	correct_program(FE_TOWARDZERO); /* main changed its own in between */
	CHECK_EQ(fesetround(FE_TONEAREST), 0);
	/* Many spawns reusing stacks: each gets its canary afresh. */
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 1000; i++)
			CHECK(corun_go(park_once, NULL) > 0);
		CHECK_EQ(corun_run(), 0);
	}
}

static void correct_program_runs_clean(void)
{
	runs_clean(child_correct);
}

/* ---- off unless asked */
static void child_unchecked(void)
{
	runtime_with_check(NULL);
	CHECK_EQ(corun_priv_checked(), 0);
	CHECK(corun_go(park_n, (void *)(intptr_t)3) > 0);
	spawn_named(round_up_and_park, NULL, "rounder", 0);
	CHECK_EQ(corun_run(), 0);
}

static void off_without_env(void)
{
	runs_clean(child_unchecked);
}

static void child_zero(void)
{
	runtime_with_check("0");
	CHECK_EQ(corun_priv_checked(), 0);
	spawn_named(round_down_and_end, NULL, "ender", CORUN_DETACHED);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(fesetround(FE_TONEAREST), 0);
}

static void off_with_zero(void)
{
	runs_clean(child_zero);
}

/* The variable is read when the runtime is made, not later. */
static void child_set_late(void)
{
	runtime_with_check(NULL);
	CHECK_EQ(setenv("CORUN_CHECK", "1", 1), 0);
	spawn_named(round_down_and_end, NULL, "ender", CORUN_DETACHED);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_priv_checked(), 0);
	CHECK_EQ(fesetround(FE_TONEAREST), 0);
}

static void read_at_creation(void)
{
	runs_clean(child_set_late);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(fp_change_reported),
		TEST(fp_change_at_end_reported),
		TEST(bad_saved_sp_reported),
		TEST(bad_saved_sp_above_reported),
		TEST(canary_of_leaving_reported),
		TEST(canary_of_resumed_reported),
		TEST(correct_program_runs_clean),
		TEST(off_without_env),
		TEST(off_with_zero),
		TEST(read_at_creation),
	};
	return RUN_TESTS(argc, argv, tests);
}
