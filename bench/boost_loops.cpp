/*
 * Bare Boost.Context loops for corun_instr (instruction counts under
 * callgrind): make_fcontext and jump_fcontext, and nothing else.
 */
#include <boost/context/detail/fcontext.hpp>
#include <cstdlib>
#include <sys/mman.h>

using boost::context::detail::fcontext_t;
using boost::context::detail::jump_fcontext;
using boost::context::detail::make_fcontext;
using boost::context::detail::transfer_t;

static const std::size_t STACK = 64 << 10;

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

static void pingpong(transfer_t t)
{
	for (;;)
		t = jump_fcontext(t.fctx, nullptr);
}

static void trivial(transfer_t t)
{
	jump_fcontext(t.fctx, t.data);
}

extern "C" int boost_loops_available(void)
{
	return 1;
}

extern "C" void boost_loop_jump(long n)
{
	fcontext_t c = make_fcontext(stack_once() + STACK, STACK, pingpong);
	transfer_t t = jump_fcontext(c, nullptr);
	for (long i = 0; i < n; i++)
		t = jump_fcontext(t.fctx, nullptr);
}

extern "C" void boost_loop_spawn(long n)
{
	for (long i = 0; i < n; i++)
		jump_fcontext(make_fcontext(stack_once() + STACK, STACK, trivial), nullptr);
}
