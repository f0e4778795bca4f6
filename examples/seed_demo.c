/*
 * The seed's usage example, in C: two coroutines counting to 10 and to 15,
 * parking after every line. Round robin interleaves them line by line until
 * the first one finishes; the second then runs alone.
 */
#include <corun.h>
#include <stdint.h>
#include <stdio.h>

struct routine {
	int id;
	int count;
};

static void *routine(void *arg)
{
	const struct routine *r = arg;
	printf("Routine %d STARTING\n", r->id);
	for (int i = 0; i < r->count; i++) {
		printf("routine: %d counter: %d\n", r->id, i);
		corun_park();
	}
	printf("Routine: %d FINISHED\n", r->id);
	return NULL;
}

int main(void)
{
	static const struct routine one = { 1, 10 }, two = { 2, 15 };
	if (corun_go(routine, (void *)&one) < 0 || corun_go(routine, (void *)&two) < 0) {
		perror("corun_go");
		return 1;
	}
	if (corun_run() < 0) {
		perror("corun_run");
		return 1;
	}
	return 0;
}
