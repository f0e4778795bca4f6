/*
 * The counters behind corun__fail (failpoint.h). Built only into the
 * corun_failpoints test library, never into the library that is installed.
 */
#include "failpoint.h"

#include <string.h>

struct failpoint {
	unsigned long ops;    /* operations counted since the reset */
	unsigned long from;   /* the first of them to fail */
	unsigned long left;   /* failures still to inject */
	unsigned long failed; /* failures injected since the reset */
};

static __thread struct failpoint points[CORUN__FAIL_KINDS];

int corun__fail(enum corun__fail_kind kind)
{
	struct failpoint *f = &points[kind];
	f->ops++;
	if (f->left == 0 || f->ops < f->from)
		return 0;
	f->left--;
	f->failed++;
	return 1;
}

void corun__failpoint_arm(enum corun__fail_kind kind, unsigned long n, unsigned long times)
{
	points[kind].from = points[kind].ops + (n ? n : 1);
	points[kind].left = times;
}

unsigned long corun__failpoint_ops(enum corun__fail_kind kind)
{
	return points[kind].ops;
}

unsigned long corun__failpoint_failed(enum corun__fail_kind kind)
{
	return points[kind].failed;
}

void corun__failpoint_reset(void)
{
	memset(points, 0, sizeof points);
}

const char *corun__failpoint_name(enum corun__fail_kind kind)
{
	static const char *const names[CORUN__FAIL_KINDS] = {
		[CORUN__FAIL_RUNTIME] = "runtime",
		[CORUN__FAIL_EXIT_KEY] = "exit key",
		[CORUN__FAIL_ALTSTACK] = "altstack",
		[CORUN__FAIL_HANDLES] = "handles",
		[CORUN__FAIL_HANDLES_SHRINK] = "handles shrink",
		[CORUN__FAIL_RING] = "ring",
		[CORUN__FAIL_CLASS] = "class",
		[CORUN__FAIL_SLAB_ARRAY] = "slab array",
		[CORUN__FAIL_SLAB] = "slab",
		[CORUN__FAIL_MAP_LIMIT] = "map limit",
		[CORUN__FAIL_GUARD] = "guard",
		[CORUN__FAIL_VG_STACKS] = "valgrind stacks",
		[CORUN__FAIL_FREE_LIST] = "free list",
		[CORUN__FAIL_FREE_SHRINK] = "free list shrink",
		[CORUN__FAIL_SPANS] = "spans",
		[CORUN__FAIL_TIMER_HEAP] = "timer heap",
		[CORUN__FAIL_EPOLL] = "epoll",
		[CORUN__FAIL_FDS] = "fds",
		[CORUN__FAIL_CHAN] = "channel",
		[CORUN__FAIL_SELECT] = "select",
		[CORUN__FAIL_SYNC] = "sync",
		[CORUN__FAIL_WAKE] = "wake",
		[CORUN__FAIL_THREAD] = "thread",
		[CORUN__FAIL_GROUP] = "group",
		[CORUN__FAIL_JOB] = "job",
		[CORUN__FAIL_URING] = "uring",
	};
	return (unsigned)kind < CORUN__FAIL_KINDS && names[kind] ? names[kind] : "?";
}
