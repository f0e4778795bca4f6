/*
 * Branch protection, in the AArch64 build with -mbranch-protection=bti or
 * =standard (only there is this program built). Two questions, kept apart:
 *
 * Does corun's code hold up where landing pads are enforced? A child maps
 * this program's code as guarded pages itself (mprotect with PROT_BTI, as
 * the dynamic loader does for a library with the BTI property), runs
 * coroutines through corun's switch there (fresh starts, parks both ways,
 * CORUN_FPCTL ones), and then branches by `br` to code without a landing
 * pad: it must die of SIGILL right at that code, and not before. This
 * holds whatever the link did with the property.
 *
 * Did the link keep the BTI property, so that every test program of the
 * build runs guarded? program_is_guarded branches to code without a landing
 * pad in a child that changed nothing: SIGILL there, or the property was
 * dropped (by one object without the GNU property note: corun's assembly,
 * or the C runtime's own startup files) or the emulator does not enforce
 * it. tests/CMakeLists.txt runs it as a test of its own (bti_link), beside
 * the readelf check of the notes (bti_notes).
 */
#include "helpers.h"

#include <corun.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__aarch64__) || !defined(__ARM_FEATURE_BTI_DEFAULT)
#error "test_bti is for AArch64 built with -mbranch-protection=bti or =standard"
#endif

#ifndef PROT_BTI
#define PROT_BTI 0x10 /* <asm/mman.h> on arm64 */
#endif

/* Two targets for an indirect branch, in assembly so that what their first
 * instruction is is certain: one starts with a `bti j` landing pad, the
 * other has none. Both return 42 in w0, through x30. */
__asm__(".text\n"
	".p2align 4\n"
	".type bti_target_pad, %function\n"
	"bti_target_pad:\n"
	"	bti j\n"
	"	mov w0, #42\n"
	"	ret\n"
	".size bti_target_pad, .-bti_target_pad\n"
	".p2align 4\n"
	".type bti_target_nopad, %function\n"
	"bti_target_nopad:\n"
	"	mov w0, #42\n"
	"	ret\n"
	".size bti_target_nopad, .-bti_target_nopad\n");
extern const char bti_target_pad[] __attribute__((visibility("hidden")));
extern const char bti_target_nopad[] __attribute__((visibility("hidden")));

/* Branch to target by `br` (a jump, so it needs `bti j` there), with x30
 * set to come back here by the target's `ret`, which BTI does not check. */
static int branch_to(const void *target)
{
	int r;
	__asm__ volatile("adr x30, 1f\n\t"
			 "br %1\n"
			 "1:\tmov %w0, w0"
			 : "=r"(r)
			 : "r"(target)
			 : "x0", "x30", "memory");
	return r;
}

/* In a child: a SIGILL says where it struck, then kills the child. */
static void on_sigill(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	char line[64];
	if (si->si_addr == (const void *)bti_target_nopad)
		snprintf(line, sizeof line, "SIGILL at the target");
	else
		snprintf(line, sizeof line, "SIGILL at %p", si->si_addr);
	child_report(line);
	raise(sig); /* SA_RESETHAND and SA_NODEFER: dies of it now */
}

static void catch_sigill(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigill;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	CHECK_EQ(sigaction(SIGILL, &sa, NULL), 0);
}

/* Ends the child: the branch must fault, so coming back is a failure. */
static void branch_without_pad(void)
{
	int r = branch_to(bti_target_nopad);
	fprintf(stderr, "the branch went through (returned %d): BTI is not enforced\n", r);
	_exit(3);
}

/* The child must have reported `want` and died of SIGILL. */
static void check_sigill(const struct child *d, const char *want)
{
	if (!d->signaled)
		CHECK_FAIL("no SIGILL: the child exited with %d; it said: %s%s", d->code,
			   d->report, d->err);
	if (d->sig != SIGILL)
		CHECK_FAIL("the child died of signal %d, not SIGILL; it said: %s%s", d->sig,
			   d->report, d->err);
	if (strcmp(d->report, want) != 0)
		CHECK_FAIL("expected \"%s\", got \"%s\"; stderr: %s", want, d->report, d->err);
}

/* ---- the control: a landing pad lets the same branch through */
static void landing_pad_taken(void)
{
	CHECK_EQ(branch_to(bti_target_pad), 42);
}

/* ---- this program's code as guarded pages, by hand */
extern char __executable_start[], etext[]; /* GNU ld's default script */

static void guard_own_code(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)__executable_start & ~(uintptr_t)(pg - 1);
	uintptr_t hi = ((uintptr_t)etext + pg - 1) & ~(uintptr_t)(pg - 1);
	CHECK((uintptr_t)bti_target_nopad >= lo && (uintptr_t)bti_target_nopad < hi);
	CHECK((uintptr_t)corun_park >= lo && (uintptr_t)corun_park < hi);
	CHECK_EQ(mprotect((void *)lo, hi - lo, PROT_READ | PROT_EXEC | PROT_BTI), 0);
	catch_sigill();
	CHECK_EQ(branch_to(bti_target_pad), 42); /* still fine with a pad */
}

static void guarded_child(void)
{
	guard_own_code();
	branch_without_pad();
}

static void guarded_pages_fault(void)
{
	struct child d;
	run_child(&d, guarded_child);
	check_sigill(&d, "SIGILL at the target");
}

/* ---- corun's switch on guarded pages: every indirect branch it makes or
 * takes (its entries, called through the runtime; the resume of a fresh
 * context in its trampoline; the trampoline's call of the entry) meets a
 * landing pad, or needs none */
static void *parker(void *arg)
{
	for (int i = 0; i < 50; i++)
		CHECK_EQ(corun_park(), 0);
	return arg;
}

static void switch_workload(void)
{
	corun_t h[8];
	for (int i = 0; i < 8; i++)
		h[i] = spawn_with(parker, (void *)(intptr_t)i, 0, (i % 2) ? CORUN_FPCTL : 0);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(corun_park(), 0); /* main takes turns */
	for (int i = 0; i < 8; i++) {
		void *r;
		CHECK_EQ(corun_join(h[i], &r), 0);
		CHECK_EQ((intptr_t)r, i);
	}
	CHECK_EQ(corun_run(), 0);
}

static void guarded_switch_child(void)
{
	guard_own_code();
	switch_workload();
	child_report("switched; ");
	branch_without_pad(); /* and still guarded after all that */
}

static void switch_on_guarded_pages(void)
{
	struct child d;
	run_child(&d, guarded_switch_child);
	check_sigill(&d, "switched; SIGILL at the target");
}

/* ---- the program as linked: guarded from the start, or the link (or the
 * emulator) dropped the property */
static void unguarded_child(void)
{
	catch_sigill();
	branch_without_pad();
}

static void program_is_guarded(void)
{
	struct child d;
	run_child(&d, unguarded_child);
	if (!d.signaled && d.exited && d.code == 3) {
		/* bti_link_notes tells whether the link or the toolchain did it. */
		fprintf(stderr, "   skipped: this program runs without BTI (its link dropped "
				"the property: see bti_link_notes)\n");
		return;
	}
	check_sigill(&d, "SIGILL at the target");
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(landing_pad_taken), TEST(guarded_pages_fault), TEST(switch_on_guarded_pages),
		TEST(program_is_guarded),
	};
	return RUN_TESTS(argc, argv, tests);
}
