/*
 * Statistics, stack use and the CORUN_STACK_REPORT report.
 *
 * corun_stats reads counters that are there anyway wherever it can, so
 * that neither a park nor a spawn pays for it:
 *   spawned   the serials the thread drew since the runtime was made (each
 *             spawn draws one; handle.c closes the account of each block)
 *   live      rt->live
 *   peak      rt->peak, kept by the compare a spawn makes anyway for the
 *             ready ring (sched.h)
 *   switches  rt->head, which counts dequeues and is never set back, plus
 *             the switches to main that dequeue nothing (rt->to_main)
 *   waits     one add in corun__wait, the slow path of a blocking call
 *   pool      misses are the stacks carved (the stack layer's slow path);
 *             hits are the rest of the stacks spawns took
 *   memory    the slabs' lengths, and mincore over them, at the call
 */
#include "runtime.h"
#include "sched.h"
#include "../failpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- mincore, a chunk at a time ---- */

#define VEC 4096 /* pages per mincore call: 16 MiB of 4 KiB pages */

/* The lowest resident page of [lo, lo + len) (both page-aligned) into
 * *low, NULL when none is. 0, or -1 with mincore's errno. */
static int lowest_resident(const char *lo, size_t len, size_t page, const char **low)
{
	unsigned char vec[VEC];
	for (size_t off = 0; off < len;) {
		size_t pages = (len - off) / page;
		if (pages > VEC)
			pages = VEC;
		if (mincore((void *)(lo + off), pages * page, vec) < 0)
			return -1;
		for (size_t i = 0; i < pages; i++)
			if (vec[i] & 1) {
				*low = lo + off + i * page;
				return 0;
			}
		off += pages * page;
	}
	*low = NULL;
	return 0;
}

/* Resident bytes of [lo, lo + len). Linux answers mincore for guard pages
 * too; qemu-user refuses a range that holds a PROT_NONE one (the mprotect
 * guards), so a refused range is asked again page by page, and a page
 * refused alone counts as not resident. */
static size_t resident(const char *lo, size_t len, size_t page)
{
	unsigned char vec[VEC];
	size_t n = 0;
	for (size_t off = 0; off < len;) {
		size_t pages = (len - off) / page;
		if (pages > VEC)
			pages = VEC;
		if (mincore((void *)(lo + off), pages * page, vec) == 0) {
			for (size_t i = 0; i < pages; i++)
				n += vec[i] & 1;
		} else {
			for (size_t i = 0; i < pages; i++)
				if (mincore((void *)(lo + off + i * page), page, vec) == 0)
					n += vec[0] & 1;
		}
		off += pages * page;
	}
	return n * page;
}

/* Bytes from the lowest resident page of a stack to its top; 0 when none
 * is resident. -1 (as size_t) with errno when mincore fails. In checked
 * mode the lowest page holds the canary (checked.c), resident whatever the
 * coroutine did: it is not looked at, so a coroutine that really reached
 * it is counted a page short. */
static size_t used_of(const struct corun__rt *rt, const struct corun__stack *st,
		      const char **low)
{
	size_t page = rt->stacks.page, skip = 0;
#ifdef CORUN__CHECKED
	if (rt->checked)
		skip = page;
#endif
	if (lowest_resident(st->lo + skip, st->size - skip, page, low) < 0)
		return (size_t)-1;
	return *low ? (size_t)(st->lo + st->size - *low) : 0;
}

/* ---- corun_stats ---- */

/* The first version's size: every caller passes at least this. */
#define STATS_V1 (offsetof(struct corun_stats, stack_bytes_resident) + sizeof(uint64_t))

int corun_stats(struct corun_stats *out)
{
	if (!out || out->size < STATS_V1) {
		errno = EINVAL;
		return -1;
	}
	struct corun_stats v;
	memset(&v, 0, sizeof v);
	struct corun__rt *rt = corun__tls;
	if (rt) {
		corun__reap(rt); /* the caller is not on the stack of one that ended */
		v.spawned = rt->spawned_base + (corun__serial_next - rt->serial_mark);
		v.live = rt->live;
		v.peak_live = rt->peak;
		v.switches = rt->head + rt->to_main;
		v.waits_sleep = rt->waits[CORUN__WAIT_SLEEP];
		v.waits_chan = rt->waits[CORUN__WAIT_CHAN];
		v.waits_join = rt->waits[CORUN__WAIT_JOIN];
		v.waits_sync = rt->waits[CORUN__WAIT_SYNC];
		v.waits_fd = rt->waits[CORUN__WAIT_FD];
		const struct corun__stacks *s = &rt->stacks;
		for (const struct corun__stack_class *c = s->classes; c; c = c->next)
			v.stacks_pooled += c->nfree;
		v.pool_misses = s->carved;
		v.pool_hits = v.spawned + rt->unwound - s->carved;
		v.stacks_purged = s->purged;
		for (size_t i = 0; i < s->nslabs; i++) {
			v.stack_bytes_reserved += s->slabs[i].len;
			v.stack_bytes_resident +=
				resident(s->slabs[i].base, s->slabs[i].len, s->page);
		}
	}
	size_t size = out->size;
	v.size = size;
	memcpy(out, &v, size < sizeof v ? size : sizeof v);
	if (size > sizeof v) /* a newer caller: fields this version lacks read 0 */
		memset((char *)out + sizeof v, 0, size - sizeof v);
	return 0;
}

/* ---- corun_stack_used ---- */

size_t corun_stack_used(corun_t h)
{
	struct corun__rt *rt = corun__tls;
	struct corun__co *co;
	if (h == 0) {
		if (!rt || rt->current == &rt->main) {
			errno = EPERM;
			return 0;
		}
		co = rt->current;
	} else {
		struct corun__slot *s = rt ? corun__slot_get(&rt->handles, h) : NULL;
		if (!s || s->state != CORUN__SLOT_LIVE) {
			errno = ESRCH;
			return 0;
		}
		co = s->u.co;
	}
	const char *low;
	size_t used = used_of(rt, &co->stack, &low);
	return used == (size_t)-1 ? 0 : used;
}

/* ---- CORUN_STACK_REPORT ---- */

struct entry {
	char name[CORUN_NAME_MAX];
	size_t stack_size;
	size_t max_used;
	uint64_t count; /* 0: the slot is empty */
};

/* Open addressing by (name, stack size); cap is a power of two. */
struct corun__report {
	struct entry *v;
	size_t n, cap;
	/* The class of the stack of rt->dead, while `none` stands in for it. */
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

static struct entry *find(struct entry *v, size_t cap, const char *name, size_t size)
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
		struct entry *v = calloc(cap, sizeof *v);
		if (!v)
			return;
		for (size_t i = 0; i < r->cap; i++)
			if (r->v[i].count)
				*find(v, cap, r->v[i].name, r->v[i].stack_size) = r->v[i];
		free(r->v);
		r->v = v;
		r->cap = cap;
	}
	struct entry *e = find(r->v, r->cap, name, size);
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

/* A coroutine ends: leave its stack to corun__reap, which measures it
 * from another stack. corun__exit does that when the pool cannot take the
 * stack back without allocating, which a class that holds nothing makes
 * sure of; report_end puts the real one back. Only this mode's ends pay
 * for it: corun__exit itself is unchanged. */
void corun__exit_measured(struct corun__rt *rt, struct corun__co *co)
{
	struct corun__report *r = rt->report;
	if (r) { /* NULL once reported at exit(): end as usual */
		corun__reap(rt); /* the one before, whose class is in r->cls */
		r->cls = co->stack.cls;
		co->stack.cls = &r->none;
	}
	corun__exit(rt, co);
}

void corun__report_end(struct corun__rt *rt, struct corun__co *co)
{
	co->stack.cls = rt->report->cls;
	const struct corun__stack *st = &co->stack;
	size_t page = rt->stacks.page;
	const char *low;
	size_t used = used_of(rt, st, &low);
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
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	int c = strcmp(x->name, y->name);
	return c ? c : (x->stack_size > y->stack_size) - (x->stack_size < y->stack_size);
}

void corun__report_fini(struct corun__rt *rt)
{
	struct corun__report *r = rt->report;
	if (!r)
		return;
	corun__reap(rt); /* the last to end, measured */
	/* At a thread's exit some may not have ended: what they use now. */
	struct corun__handles *t = &rt->handles;
	for (uint32_t i = 0; i < t->n; i++) {
		if (t->slots[i].state != CORUN__SLOT_LIVE)
			continue;
		const struct corun__co *co = t->slots[i].u.co;
		const char *low;
		size_t used = used_of(rt, &co->stack, &low);
		if (used != (size_t)-1)
			record(r, name_of(co), co->stack.size, used);
	}
	rt->report = NULL;
	corun__entry_pick(rt);

	struct entry **sorted = r->n ? malloc(r->n * sizeof *sorted) : NULL;
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
