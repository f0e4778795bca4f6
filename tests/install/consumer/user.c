/* A user program built against an installed corun. */
#include <corun.h>
#include <stdint.h>
#include <stdio.h>

static void *twice(void *arg)
{
	corun_park();
	return (void *)((intptr_t)arg * 2);
}

int main(void)
{
	corun_t h = corun_go(twice, (void *)(intptr_t)21);
	void *r = NULL;
	if (h < 0 || corun_join(h, &r) != 0 || (intptr_t)r != 42) {
		fprintf(stderr, "installed corun does not work\n");
		return 1;
	}
	return 0;
}
