/*
 * corun_churn: the churn benchmark's shape as a bare program, for counting
 * what the kernel sees (bench/syscalls.sh runs it under strace -c -f and
 * perf stat -e page-faults, twice, with different totals, and divides the
 * difference: what the first batch costs cancels, the steady state stays).
 *
 *   corun_churn B TOTAL [joined] [STACK]
 */
#include <corun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *touch_1k(void *arg)
{
	volatile char buf[1024];
	for (unsigned i = 0; i < sizeof buf; i += 64)
		buf[i] = 1;
	return arg;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s B TOTAL [joined|detached] [STACK]\n", argv[0]);
		return 2;
	}
	long b = atol(argv[1]), total = atol(argv[2]);
	int joined = argc > 3 && strcmp(argv[3], "joined") == 0;
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = argc > 4 ? (size_t)atol(argv[4]) : CORUN_STACK_MIN;
	a.flags = joined ? 0 : CORUN_DETACHED;
	corun_t *h = malloc((size_t)b * sizeof *h);
	if (b < 1 || !h)
		return 2;
	for (long n = 0; n < total; n += b) {
		for (long i = 0; i < b; i++)
			if ((h[i] = corun_go_attr(touch_1k, NULL, &a)) < 0) {
				perror("corun_go_attr");
				return 1;
			}
		if (joined) {
			for (long i = 0; i < b; i++)
				corun_join(h[i], NULL);
		} else if (corun_run() < 0) {
			perror("corun_run");
			return 1;
		}
	}
	free(h);
	return 0;
}
