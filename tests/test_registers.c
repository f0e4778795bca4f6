/*
 * Callee-saved state survives a park: general registers (checked by an
 * assembly helper per ABI), and the floating-point control state of the
 * contexts that keep their own (CORUN_FPCTL coroutines and main), each while
 * others set different values; coroutines without the flag share main's,
 * also when main changes it between steps, and when CORUN_FPCTL coroutines
 * come and go while main is suspended.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <fenv.h>
#include <stdint.h>

/* tests/arch/<abi>_regs.S: loads every callee-saved register (general and
 * floating-point) with a value derived from seed, calls fn, and returns a
 * bit mask of those that changed. */
int regs_survive(void (*fn)(void), uint64_t seed);
#ifdef CORUN_TEST_NO_REGS
int regs_survive(void (*fn)(void), uint64_t seed)
{
	(void)fn, (void)seed;
	return 0;
}
#endif

static void park_main(void)
{
	CHECK_EQ(corun_park(), 0);
}

static void *regs_body(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg;
	for (int i = 0; i < 10; i++)
		CHECK_EQ(regs_survive(park_main, seed + (uint64_t)i * 16), 0);
	return NULL;
}

static void run_all(void)
{
	CHECK_EQ(corun_run(), 0);
}

static void general_registers(void)
{
#ifdef CORUN_TEST_NO_REGS
	fprintf(stderr, "   skipped: no register helper for this ABI in tests/arch/\n");
	return;
#endif
	/* Three coroutines with distinct values, parking into each other. */
	for (uint64_t k = 1; k <= 3; k++)
		CHECK(corun_go(regs_body, (void *)(uintptr_t)(k * 0x1111111111110000ull)) > 0);
	/* Main's own values survive the whole run, and a step. */
	CHECK_EQ(regs_survive(run_all, 0x5a5a5a5a00000000ull), 0);
	CHECK(corun_go(regs_body, (void *)(uintptr_t)0x7777000000000000ull) > 0);
	CHECK_EQ(regs_survive(park_main, 0x6b6b6b6b00000000ull), 0);
	CHECK_EQ(corun_run(), 0);
}

#if defined(__x86_64__)
static unsigned get_mxcsr(void)
{
	unsigned m;
	__asm__ volatile("stmxcsr %0" : "=m"(m));
	return m;
}
static void set_mxcsr(unsigned m)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(m));
}
static unsigned short get_x87cw(void)
{
	unsigned short cw;
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	return cw;
}
static void set_x87cw(unsigned short cw)
{
	__asm__ volatile("fldcw %0" : : "m"(cw));
}
#define MXCSR_CONTROL 0xffc0u /* DAZ, masks, rounding, FTZ: not the flags */
#elif defined(__aarch64__)
/* FPCR is all control (the flags are in FPSR), so the state is all of it. */
static uint64_t get_fpcr(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, fpcr" : "=r"(v));
	return v;
}
static void set_fpcr(uint64_t v)
{
	__asm__ volatile("msr fpcr, %0" : : "r"(v));
}
static uint64_t get_fpsr(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, fpsr" : "=r"(v));
	return v;
}
#define FPCR_FZ (1u << 24) /* flush denormals to zero */
#define FPCR_DN (1u << 25) /* default NaN */
#endif

struct fp_state {
	int round;
#if defined(__x86_64__)
	unsigned mxcsr;
	unsigned short x87cw;
#elif defined(__aarch64__)
	uint64_t fpcr;
#endif
};

static struct fp_state fp_now(void)
{
	struct fp_state s = { .round = fegetround() };
#if defined(__x86_64__)
	s.mxcsr = get_mxcsr() & MXCSR_CONTROL;
	s.x87cw = get_x87cw();
#elif defined(__aarch64__)
	s.fpcr = get_fpcr();
#endif
	return s;
}

static void fp_check(struct fp_state want, struct fp_state got)
{
	CHECK_EQ(got.round, want.round);
#if defined(__x86_64__)
	CHECK_EQ(got.mxcsr, want.mxcsr);
	CHECK_EQ(got.x87cw, want.x87cw);
#elif defined(__aarch64__)
	CHECK_EQ(got.fpcr, want.fpcr);
#endif
}

/* A CORUN_FPCTL coroutine sets its own rounding mode (and on x86_64 FTZ/DAZ
 * or the x87 precision, on AArch64 FPCR's FZ and DN), then parks many times
 * while the others set theirs. */
static void *fp_body(void *arg)
{
	int mode = (int)(intptr_t)arg;
	CHECK_EQ(fesetround(mode), 0);
#if defined(__x86_64__)
	if (mode == FE_TOWARDZERO)
		set_mxcsr(get_mxcsr() | 0x8040u); /* FTZ and DAZ */
	if (mode == FE_UPWARD)
		set_x87cw((unsigned short)(get_x87cw() & ~0x300u)); /* 24-bit precision */
#elif defined(__aarch64__)
	if (mode == FE_TOWARDZERO)
		set_fpcr(get_fpcr() | FPCR_FZ | FPCR_DN);
	if (mode == FE_UPWARD)
		set_fpcr(get_fpcr() | FPCR_DN);
	if (mode == FE_TOWARDZERO || mode == FE_UPWARD)
		CHECK(get_fpcr() & FPCR_DN); /* it took: the checks below mean something */
#endif
	struct fp_state mine = fp_now();
	for (int i = 0; i < 20; i++) {
		CHECK_EQ(corun_park(), 0);
		fp_check(mine, fp_now());
	}
	return NULL;
}

/* A coroutine without the flag always finds main's state. */
static struct fp_state baseline;

static void *baseline_body(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		fp_check(baseline, fp_now());
		CHECK_EQ(corun_park(), 0);
	}
	fp_check(baseline, fp_now());
	return NULL;
}

static void *fp_inherit_child(void *arg)
{
	fp_check(*(struct fp_state *)arg, fp_now());
	return NULL;
}

static void *fp_inherit_parent(void *arg)
{
	(void)arg;
	CHECK_EQ(fesetround(FE_DOWNWARD), 0);
	static struct fp_state at_spawn;
	at_spawn = fp_now();
	corun_t c = spawn_with(fp_inherit_child, &at_spawn, 0, CORUN_FPCTL);
	corun_t d = spawn_with(fp_inherit_child, &baseline, 0, 0);
	CHECK_EQ(fesetround(FE_UPWARD), 0); /* changing ours later: not theirs */
	CHECK_EQ(corun_join(c, NULL), 0);
	CHECK_EQ(corun_join(d, NULL), 0);
	return NULL;
}

static void fp_control_state(void)
{
	struct fp_state main_state = fp_now();
	baseline = main_state; /* what the coroutines without the flag see */
	int modes[] = { FE_TOWARDZERO, FE_UPWARD, FE_DOWNWARD, FE_TONEAREST };
	for (unsigned i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		spawn_with(fp_body, (void *)(intptr_t)modes[i], 0, CORUN_FPCTL);
		spawn_with(baseline_body, NULL, 0, 0);
	}
	CHECK_EQ(corun_run(), 0);
	fp_check(main_state, fp_now()); /* main's survived the run */

	spawn_with(fp_inherit_parent, NULL, 0, CORUN_FPCTL);
	spawn_with(baseline_body, NULL, 0, 0);
	CHECK_EQ(corun_run(), 0);
	fp_check(main_state, fp_now());
}

/* Main changes its own state after the runtime exists: coroutines without
 * the flag share main's new one; main finds its own after every step, and
 * the CORUN_FPCTL one keeps its own. */
static void main_keeps_its_own(void)
{
	corun_t keep = spawn_with(park_n, (void *)(intptr_t)1000, 0, 0);
	CHECK_EQ(fesetround(FE_UPWARD), 0);
	struct fp_state mine = fp_now();
	baseline = mine;
	spawn_with(baseline_body, NULL, 0, 0);
	spawn_with(fp_body, (void *)(intptr_t)FE_TOWARDZERO, 0, CORUN_FPCTL);
	for (int i = 0; i < 25; i++) {
		CHECK_EQ(corun_park(), 0);
		fp_check(mine, fp_now());
	}
	CHECK_EQ(corun_join(keep, NULL), 0);
	fp_check(mine, fp_now());
	CHECK_EQ(fesetround(FE_TONEAREST), 0);
}

/* Main's state changes while a coroutine without the flag is parked: it
 * resumes with main's new one. */
static struct fp_state seen;
static void *watch(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_park(), 0);
	seen = fp_now();
	return NULL;
}

/* Started by main, no CORUN_FPCTL coroutine alive: spawns one (the first)
 * while main is suspended, and outlives it (the last). Main's state must
 * survive both, and this one sees main's throughout. */
static void *fpctl_comes_and_goes(void *arg)
{
	(void)arg;
	fp_check(baseline, fp_now());
	corun_t c = spawn_with(fp_body, (void *)(intptr_t)FE_DOWNWARD, 0, CORUN_FPCTL);
	CHECK_EQ(corun_park(), 0);
	fp_check(baseline, fp_now());
	CHECK_EQ(corun_join(c, NULL), 0);
	fp_check(baseline, fp_now());
	return NULL;
}

static void sharers_follow_main(void)
{
	CHECK_EQ(fesetround(FE_TONEAREST), 0);
	spawn_with(watch, NULL, 0, 0);
	CHECK_EQ(corun_park(), 0); /* watch runs and parks */
	CHECK_EQ(fesetround(FE_TOWARDZERO), 0);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(seen.round, FE_TOWARDZERO);

	CHECK_EQ(fesetround(FE_UPWARD), 0);
	baseline = fp_now();
	spawn_with(fpctl_comes_and_goes, NULL, 0, 0);
	spawn_with(baseline_body, NULL, 0, 0);
	CHECK_EQ(corun_run(), 0);
	fp_check(baseline, fp_now());
	CHECK_EQ(fesetround(FE_TONEAREST), 0);
}

/* Exception flags are status, not control: they belong to the thread, as
 * between functions, and no switch clears them. A flag a coroutine raises
 * is still raised after it parks, whoever ran meanwhile: main, or a
 * CORUN_FPCTL coroutine whose own control state was loaded and unloaded. */
static volatile double zero = 0.0, huge = 1e308;

static void *raises_divbyzero(void *arg)
{
	(void)arg;
	volatile double r = 1.0 / zero; /* FE_DIVBYZERO */
	(void)r;
	CHECK(fetestexcept(FE_DIVBYZERO));
	for (int i = 0; i < 4; i++) {
		park_main();
		CHECK(fetestexcept(FE_DIVBYZERO));
#if defined(__x86_64__)
		CHECK(get_mxcsr() & 0x4u); /* ZE, where SSE arithmetic raised it */
#elif defined(__aarch64__)
		CHECK(get_fpsr() & 0x2u); /* DZC */
#endif
	}
	return NULL;
}

static void *raises_overflow_own_mode(void *arg)
{
	(void)arg;
	CHECK_EQ(fesetround(FE_UPWARD), 0);
	volatile double r = huge * 10.0; /* FE_OVERFLOW */
	(void)r;
	for (int i = 0; i < 4; i++) {
		park_main();
		CHECK(fetestexcept(FE_OVERFLOW));
		CHECK_EQ(fegetround(), FE_UPWARD);
	}
	return NULL;
}

static void exception_flags_survive(void)
{
	/* valgrind computes floating point without raising the flags. */
	if (RUNNING_ON_VALGRIND) {
		fprintf(stderr, "   skipped: valgrind does not model exception flags\n");
		return;
	}
	CHECK_EQ(feclearexcept(FE_ALL_EXCEPT), 0);
	struct fp_state before = fp_now();
	spawn_with(raises_divbyzero, NULL, 0, 0);
	spawn_with(raises_overflow_own_mode, NULL, 0, CORUN_FPCTL);
	while (corun_count() > 0) /* main takes a turn between theirs */
		park_main();
	CHECK(fetestexcept(FE_DIVBYZERO));
	CHECK(fetestexcept(FE_OVERFLOW));
	fp_check(before, fp_now()); /* and its control state is its own */
	CHECK_EQ(feclearexcept(FE_ALL_EXCEPT), 0);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(general_registers), TEST(fp_control_state), TEST(main_keeps_its_own),
		TEST(sharers_follow_main), TEST(exception_flags_survive),
	};
	return RUN_TESTS(argc, argv, tests);
}
