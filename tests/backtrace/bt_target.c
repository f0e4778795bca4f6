/* A coroutine three calls deep, for gdb to stop in (see check.sh). */
#include <corun.h>
#include <stdio.h>

__attribute__((noinline)) void bt_stop_here(int depth)
{
	__asm__ volatile("" ::: "memory");
	printf("depth %d\n", depth);
}

__attribute__((noinline)) static void level2(int n)
{
	bt_stop_here(n);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void *level1(void *arg)
{
	corun_park();
	level2(2);
	__asm__ volatile("" ::: "memory");
	return arg;
}

int main(void)
{
	corun_go(level1, NULL);
	corun_go(level1, NULL);
	return corun_run();
}
