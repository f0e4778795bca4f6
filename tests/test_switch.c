/*
 * The arch layer alone (src/arch/switch.h), without the scheduler: a fresh
 * context starts in its entry with its argument, on an ABI-aligned stack;
 * switches carry their int both ways; many contexts interleave; an exit
 * runs its function on the stack it goes to, which may then free the stack
 * it left.
 */
#include "helpers.h"
#include "../src/arch/switch.h"

#include <stdint.h>
#include <sys/mman.h>

#ifndef VALGRIND_STACK_REGISTER /* check.h includes valgrind.h when it can */
#define VALGRIND_STACK_REGISTER(lo, hi) 0
#endif

#define STACK (64 * 1024)

static void *main_ctx;

static void *new_stack(void)
{
	char *p = mmap(NULL, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	(void)VALGRIND_STACK_REGISTER(p, p + STACK); /* as corun's own stacks are */
	return p + STACK; /* page aligned, so CORUN__CTX_ALIGN aligned */
}

/* ---- a fresh context gets its argument and an aligned stack */
struct start { void *ctx; void *seen_arg; int aligned; int carried_in; };

static void starter(void *arg)
{
	struct start *s = arg;
	_Alignas(16) volatile char probe[16];
	probe[0] = 1;
	s->seen_arg = arg;
	s->aligned = ((uintptr_t)probe % 16) == 0;
	/* A frame-pointer-free compiler may place probe anywhere, but it is
	 * entitled to assume rsp % 16 == 8 at entry; a misaligned start shows
	 * up as a misaligned probe. */
	s->carried_in = corun__ctx_switch(&s->ctx, main_ctx, 41);
	corun__ctx_switch(&s->ctx, main_ctx, s->carried_in + 1);
	CHECK_FAIL("resumed a context that was meant to stay suspended");
}

static void fresh_context(void)
{
	struct start s = { 0 };
	s.ctx = corun__ctx_make(new_stack(), starter, &s, STACK);
	CHECK_EQ(corun__ctx_switch(&main_ctx, s.ctx, 7), 41);
	CHECK_PTR_EQ(s.seen_arg, &s);
	CHECK(s.aligned);
	CHECK_EQ(corun__ctx_switch(&main_ctx, s.ctx, 100), 101);
	CHECK_EQ(s.carried_in, 100);
}

/* ---- a ring of contexts passing a counter around */
enum { RING = 64, LAPS = 1000 };
static void *ring[RING];
static long visits[RING];

static void ring_member(void *arg)
{
	int me = (int)(intptr_t)arg;
	int token = corun__ctx_switch(&ring[me], main_ctx, 0); /* parked, ready */
	for (;;) {
		visits[me]++;
		if (token == RING * LAPS)
			token = corun__ctx_switch(&ring[me], main_ctx, token);
		else
			token = corun__ctx_switch(&ring[me], ring[(me + 1) % RING], token + 1);
	}
}

static void ring_of_contexts(void)
{
	for (int i = 0; i < RING; i++) {
		ring[i] = corun__ctx_make(new_stack(), ring_member, (void *)(intptr_t)i, STACK);
		CHECK_EQ(corun__ctx_switch(&main_ctx, ring[i], 0), 0);
	}
	CHECK_EQ(corun__ctx_switch(&main_ctx, ring[0], 1), RING * LAPS);
	for (int i = 0; i < RING; i++)
		CHECK_EQ(visits[i], LAPS);
}

/* ---- corun__ctx_exit: fn runs on the target's stack, before it resumes */
struct leaving {
	void **to;           /* where the context it exits to is kept */
	char *lo, *hi;       /* the leaving context's stack */
	char *to_lo, *to_hi; /* the target's, when it is one of ours */
	int ran;             /* on_top ran... */
	int on_target;       /* ...with its frame on the target's stack */
	int off_leaver;      /* ...and not on the one that left */
	int aligned;
};

static void on_top(void *arg)
{
	struct leaving *l = arg;
	_Alignas(16) volatile char probe[16];
	probe[0] = 1;
	char *at = (char *)probe;
	l->ran++;
	l->off_leaver = !(at >= l->lo && at < l->hi);
	l->on_target = l->to_lo ? (at >= l->to_lo && at < l->to_hi) : 1;
	l->aligned = ((uintptr_t)probe % 16) == 0;
	/* Nothing runs on the stack that was left: it can go. */
	CHECK_EQ(munmap(l->lo, STACK), 0);
}

static void leaver(void *arg)
{
	struct leaving *l = arg;
	corun__ctx_exit(*l->to, on_top, l);
}

static void *fresh_ctx;
static int fresh_saw_ran;

static void fresh_target(void *arg)
{
	struct leaving *l = arg;
	fresh_saw_ran = l->ran; /* on_top ran before this started */
	corun__ctx_switch(&fresh_ctx, main_ctx, 5);
	CHECK_FAIL("resumed a context that was meant to stay suspended");
}

static void exit_on_top(void)
{
	/* To a suspended context, main: it resumes with 0, after fn ran off
	 * the stack that was left, which fn unmapped. */
	struct leaving l = { .to = &main_ctx };
	l.hi = new_stack();
	l.lo = l.hi - STACK;
	void *ctx = corun__ctx_make(l.hi, leaver, &l, STACK);
	CHECK_EQ(corun__ctx_switch(&main_ctx, ctx, 9), 0);
	CHECK_EQ(l.ran, 1);
	CHECK(l.off_leaver);
	CHECK(l.aligned);

	/* To a fresh context: fn runs on its stack, then it starts. */
	struct leaving m = { .to = &fresh_ctx };
	m.hi = new_stack();
	m.lo = m.hi - STACK;
	m.to_hi = new_stack();
	m.to_lo = m.to_hi - STACK;
	fresh_ctx = corun__ctx_make(m.to_hi, fresh_target, &m, STACK);
	ctx = corun__ctx_make(m.hi, leaver, &m, STACK);
	CHECK_EQ(corun__ctx_switch(&main_ctx, ctx, 0), 5);
	CHECK_EQ(m.ran, 1);
	CHECK_EQ(fresh_saw_ran, 1);
	CHECK(m.on_target);
	CHECK(m.off_leaver);
	CHECK(m.aligned);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = { TEST(fresh_context), TEST(ring_of_contexts),
					     TEST(exit_on_top) };
	return RUN_TESTS(argc, argv, tests);
}
