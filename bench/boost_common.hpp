/*
 * What boost.cpp (the suite's Boost.Context baseline) and boost_loops.cpp
 * (bare loops for callgrind) share: one pooled stack and the two context
 * bodies. Each file that includes it gets its own copy (all static).
 */
#ifndef CORUN_BENCH_BOOST_COMMON_HPP
#define CORUN_BENCH_BOOST_COMMON_HPP

#include <boost/context/detail/fcontext.hpp>
#include <cstdlib>
#include <sys/mman.h>

using boost::context::detail::fcontext_t;
using boost::context::detail::jump_fcontext;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

static const std::size_t STACK = 64 << 10;

/* One stack, mapped once and reused: Boost's side of a pooled stack. */
static char *stack_once()
{
	static char *stk;
	if (!stk) {
		void *p = mmap(nullptr, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			std::abort();
		stk = static_cast<char *>(p);
	}
	return stk;
}

/* Jumps straight back to whoever jumped in, forever. */
[[maybe_unused]] static void pingpong(transfer_t t)
{
	for (;;)
		t = jump_fcontext(t.fctx, nullptr);
}

/* "Returns" its argument; never resumed. */
[[maybe_unused]] static void trivial(transfer_t t)
{
	jump_fcontext(t.fctx, t.data);
}

#endif
