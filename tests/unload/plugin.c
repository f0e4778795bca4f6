/*
 * A plugin that uses corun through libcorun.so, for tests/unload/host.c,
 * which loads it with dlopen, calls it, and unloads it with dlclose. The
 * host never links corun itself, so unloading the plugin would unload
 * libcorun.so with it, were it not linked with -z nodelete.
 */
#include <corun.h>
#include <stdint.h>

/* Exported from the plugin (the build hides everything else). */
#define PLUGIN_API __attribute__((visibility("default")))

static void *square_after_parks(void *arg)
{
	intptr_t n = (intptr_t)arg;
	for (intptr_t i = 0; i < n; i++)
		if (corun_park() != 0)
			return (void *)(intptr_t)-1;
	return (void *)(n * n);
}

/* Spawn coroutines 1..n that interleave, join them all: the sum of the
 * squares of 1..n, or -1. The calling thread keeps its runtime. */
PLUGIN_API long plugin_run(int n)
{
	corun_t h[16];
	if (n < 1 || n > 16)
		return -1;
	for (int i = 0; i < n; i++)
		if ((h[i] = corun_go(square_after_parks, (void *)(intptr_t)(i + 1))) < 0)
			return -1;
	long sum = 0;
	for (int i = 0; i < n; i++) {
		void *r;
		if (corun_join(h[i], &r) != 0 || (intptr_t)r < 0)
			return -1;
		sum += (long)(intptr_t)r;
	}
	return sum;
}

/* How many coroutines this thread has that have not ended. */
PLUGIN_API int plugin_count(void)
{
	return corun_count();
}
