/*
 * The CORUN_STACK_REPORT report (report.h): the most stack each coroutine
 * name used, by (name, stack size), measured at each end from another
 * stack (sched.c's end on top), and printed when the runtime is released or the
 * process exits.
 */
#include "report.h"
#include "runtime.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct row {
	char name[CORUN_NAME_MAX];
	size_t stack_size;
	size_t max_used;
	uint64_t count; /* 0: the slot is empty */
};

/* Open addressing by (name, stack size); cap is a power of two. */
struct corun__report {
	struct row *v;
	size_t n, cap;
	/* The class of the stack of the one ending, while `none` stands in. */
	struct corun__stack_class *cls;
	struct corun__stack_class none; /* holds nothing: put_fast fails */
};

#define UNNAMED "(unnamed)"

static size_t hash_of(const char *name, size_t size)
{
	uint64_t x = 1469598103934665603ull ^ size;
	for (; *name; name++)
		x = (x ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)(x ^ x >> 29);
}

static struct row *find(struct row *v, size_t cap, const char *name, size_t size)
{
	for (size_t i = hash_of(name, size) & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!v[i].count || (v[i].stack_size == size && !strcmp(v[i].name, name)))
			return &v[i];
}

/* Count one coroutine of `name` on a stack of `size` that used `used`.
 * Without memory for a larger table, the coroutine is left out. */
static void record(struct corun__report *r, const char *name, size_t size, size_t used)
{
	if (2 * (r->n + 1) > r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 32;
		struct row *v = calloc(cap, sizeof *v);
		if (!v)
			return;
		for (size_t i = 0; i < r->cap; i++)
			if (r->v[i].count)
				*find(v, cap, r->v[i].name, r->v[i].stack_size) = r->v[i];
		free(r->v);
		r->v = v;
		r->cap = cap;
	}
	struct row *e = find(r->v, r->cap, name, size);
	if (!e->count) {
		strcpy(e->name, name); /* both are < CORUN_NAME_MAX */
		e->stack_size = size;
		r->n++;
	}
	e->count++;
	if (used > e->max_used)
		e->max_used = used;
}

static const char *name_of(const struct corun__co *co)
{
	return (co->flags & CORUN__F_NAMED) ? co->name : UNNAMED;
}

static pthread_once_t at_exit_once = PTHREAD_ONCE_INIT;

/* exit() releases no runtime: report the exiting thread's there. */
static void report_at_exit(void)
{
	struct corun__rt *rt = corun__tls;
	if (rt)
		corun__report_fini(rt);
}

static void register_at_exit(void)
{
	(void)atexit(report_at_exit);
}

void corun__report_init(struct corun__rt *rt)
{
	const char *e = getenv("CORUN_STACK_REPORT");
	if (!e || strcmp(e, "1") != 0)
		return;
	rt->report = calloc(1, sizeof *rt->report); /* none: no report */
	if (rt->report)
		pthread_once(&at_exit_once, register_at_exit);
}

/* A coroutine ends: its stack must be measured from another, so its
 * class is swapped for one that holds nothing, which makes the pool's fast
 * path refuse it, and corun__exit then ends it on the next one's stack
 * (sched.c), where corun__report_end measures it and puts the real class
 * back. Only this mode's ends pay for it: corun__exit itself is unchanged. */
void corun__exit_measured(struct corun__rt *rt, struct corun__co *co)
{
	struct corun__report *r = rt->report;
	if (r) { /* NULL once reported at exit(): end as usual */
		r->cls = co->stack.cls;
		co->stack.cls = &r->none;
	}
	corun__exit(rt, co);
}

void corun__report_end(struct corun__rt *rt, struct corun__co *co)
{
	if (co->stack.cls == &rt->report->none)
		co->stack.cls = rt->report->cls;
	const struct corun__stack *st = &co->stack;
	size_t page = rt->stacks.page;
	const char *low;
	size_t used = corun__stack_used_of(rt, st, &low);
	if (used == (size_t)-1)
		return;
	record(rt->report, name_of(co), st->size, used);
	/* The next user of this stack is measured from a clean state: all but
	 * the top page (where the next record goes) back to the kernel. */
	const char *top = st->lo + st->size - page;
	if (low && low < top)
		(void)madvise((void *)low, (size_t)(top - low), MADV_DONTNEED);
}

static int by_name(const void *a, const void *b)
{
	const struct row *x = *(struct row *const *)a, *y = *(struct row *const *)b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->stack_size > y->stack_size) - (x->stack_size < y->stack_size);
}

void corun__report_fini(struct corun__rt *rt)
{
	struct corun__report *r = rt->report;
	if (!r)
		return;
	/* At a thread's exit some may not have ended: what they use now. */
	struct corun__handles *t = &rt->handles;
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->slots[i].state != CORUN__SLOT_LIVE)
			continue;
		const struct corun__co *co = t->slots[i].u.co;
		const char *low;
		size_t used = corun__stack_used_of(rt, &co->stack, &low);
		if (used != (size_t)-1)
			record(r, name_of(co), co->stack.size, used);
	}
	rt->report = NULL;
	corun__start_pick(rt);

	struct row **sorted = r->n ? malloc(r->n * sizeof *sorted) : NULL;
	size_t k = 0;
	if (sorted) {
		for (size_t i = 0; i < r->cap; i++)
			if (r->v[i].count)
				sorted[k++] = &r->v[i];
		qsort(sorted, k, sizeof *sorted, by_name);
	}
	fprintf(stderr, "corun: stack report: %zu name%s, the most each used (page granularity)\n",
		r->n, r->n == 1 ? "" : "s");
	for (size_t i = 0; i < k; i++)
		fprintf(stderr, "corun: stack use \"%s\": max %zu of %zu bytes, %llu coroutine%s\n",
			sorted[i]->name, sorted[i]->max_used, sorted[i]->stack_size,
			(unsigned long long)sorted[i]->count, sorted[i]->count == 1 ? "" : "s");
	free(sorted);
	free(r->v);
	free(r);
}
