/* Built instead of boost.cpp when Boost.Context (or a C++ compiler) is
 * missing: the suite then says so and runs everything else. */
#include "bench.h"

int boost_available(void)
{
	return 0;
}
void bench_boost_switch(struct samples *out)
{
	(void)out;
}
void bench_boost_spawn(struct samples *out)
{
	(void)out;
}
double bench_boost_memory(long n, size_t stack)
{
	(void)n;
	(void)stack;
	return -1;
}
void bench_boost_churn(long b, size_t stack, struct samples *out)
{
	(void)b;
	(void)stack;
	(void)out;
}
