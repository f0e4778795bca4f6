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

