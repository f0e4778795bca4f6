/*
 * Boost.Context's fcontext (the layer under boost::context::fiber), as a
 * baseline: make_fcontext / jump_fcontext, the fastest switch Boost has.
 * C++ in the benchmark only; the library stays C.
 */
#include "bench.h"

#include "boost_common.hpp"
#include <vector>

static void touch_and_wait(transfer_t t)
{
	volatile char buf[1024];
	for (unsigned i = 0; i < sizeof buf; i += 64)
		buf[i] = 1;
	for (;;)
		t = jump_fcontext(t.fctx, nullptr);
}

extern "C" int boost_available(void)
{
	return 1;
}

extern "C" void bench_boost_switch(struct samples *out)
{
	for (int k = 0; k < cfg.trials; k++) {
		long n = iters(5000000);
		fcontext_t c = make_fcontext(stack_once() + STACK, STACK, pingpong);
		transfer_t t = jump_fcontext(c, nullptr);
		double t0 = now_ns();
		for (long i = 0; i < n; i++)
			t = jump_fcontext(t.fctx, nullptr);
		add_sample(out, (now_ns() - t0) / (2.0 * (double)n));
	}
}

extern "C" void bench_boost_spawn(struct samples *out)
{
	for (int k = 0; k < cfg.trials; k++) {
		long n = iters(1000000);
		double t0 = now_ns();
		for (long i = 0; i < n; i++) {
			fcontext_t c = make_fcontext(stack_once() + STACK, STACK, trivial);
			transfer_t t = jump_fcontext(c, reinterpret_cast<void *>(i));
			if (t.data != reinterpret_cast<void *>(i))
				std::abort();
		}
		add_sample(out, (now_ns() - t0) / (double)n);
	}
}

extern "C" double bench_boost_memory(long n, std::size_t stack)
{
	std::vector<char *> stacks;
	std::vector<fcontext_t> ctx;
	stacks.reserve(n);
	ctx.reserve(n);
	std::size_t before = resident_bytes();
	for (long i = 0; i < n; i++) {
		char *s = static_cast<char *>(std::malloc(stack));
		if (!s)
			return -1;
		stacks.push_back(s);
		ctx.push_back(jump_fcontext(make_fcontext(s + stack, stack, touch_and_wait), nullptr).fctx);
	}
	double per = double(resident_bytes() - before) / double(n);
	for (char *s : stacks)
		std::free(s);
	return per;
}


/* Churn: batches of b contexts, each on a stack from a free list that never
 * gives anything back (the fastest a pool can be), touching 1 KiB, run to
 * their end one after the other. ns per context. */
static void churn_body(transfer_t t)
{
	volatile char buf[1024];
	for (unsigned i = 0; i < sizeof buf; i += 64)
		buf[i] = 1;
	jump_fcontext(t.fctx, t.data); /* done: never resumed */
}

extern "C" void bench_boost_churn(long b, std::size_t stack, struct samples *out)
{
	static std::vector<char *> free_list;
	static std::size_t free_size;
	if (free_size != stack) { /* a new size: start a new list */
		for (char *s : free_list)
			munmap(s, free_size);
		free_list.clear();
		free_size = stack;
	}
	std::vector<fcontext_t> ctx(static_cast<std::size_t>(b));
	std::vector<char *> used(static_cast<std::size_t>(b));
	long total = churn_total(b);
	for (int k = -1; k < cfg.trials; k++) { /* k = -1: the warm-up batch */
		long batches = k < 0 ? 1 : (total / b < 1 ? 1 : total / b);
		double t0 = now_ns();
		for (long n = 0; n < batches; n++) {
			for (long i = 0; i < b; i++) {
				char *s;
				if (free_list.empty()) {
					void *p = mmap(nullptr, stack, PROT_READ | PROT_WRITE,
						       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
					if (p == MAP_FAILED)
						std::abort();
					s = static_cast<char *>(p);
				} else {
					s = free_list.back();
					free_list.pop_back();
				}
				used[i] = s;
				ctx[i] = make_fcontext(s + stack, stack, churn_body);
			}
			for (long i = 0; i < b; i++) {
				jump_fcontext(ctx[i], nullptr);
				free_list.push_back(used[i]);
			}
		}
		if (k >= 0)
			add_sample(out, (now_ns() - t0) / double(batches * b));
	}
}
