/* Built instead of boost_loops.cpp without Boost.Context. */
int boost_loops_available(void)
{
	return 0;
}
void boost_loop_jump(long n)
{
	(void)n;
}
void boost_loop_spawn(long n)
{
	(void)n;
}
