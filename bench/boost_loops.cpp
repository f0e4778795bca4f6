/*
 * Bare Boost.Context loops for corun_instr (instruction counts under
 * callgrind): make_fcontext and jump_fcontext, and nothing else.
 */
#include "boost_common.hpp"

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
