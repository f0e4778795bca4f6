/*
 * The sanitizer hooks declared in hooks.h. Built in every configuration;
 * the scheduler calls them only when CORUN__TOOLED.
 */
#include "hooks.h"
#include "runtime.h"

void corun__hook_init(struct corun__rt *rt)
{
#ifdef CORUN__TSAN
	rt->main.tsan_fiber = __tsan_get_current_fiber();
#endif
	(void)rt;
}

void corun__hook_spawn(struct corun__rt *rt, struct corun__co *co,
		       const struct corun__stack *st)
{
#ifdef CORUN__ASAN
	/* Only frames that never returned can have left poison: the entry's,
	 * near the top. The top 64 KiB covers them without clearing the
	 * shadow of a whole 2 MiB stack on every spawn. */
	size_t span = st->size < (64u << 10) ? st->size : (64u << 10);
	ASAN_UNPOISON_MEMORY_REGION(st->lo + st->size - span, span);
	co->asan_fake = NULL;
#endif
#ifdef CORUN__TSAN
	co->tsan_fiber = __tsan_create_fiber(0);
#endif
	(void)rt;
	(void)co;
	(void)st;
}

void corun__hook_dead(struct corun__rt *rt, struct corun__co *co)
{
#ifdef CORUN__TSAN
	if (co->tsan_fiber)
		__tsan_destroy_fiber(co->tsan_fiber);
	co->tsan_fiber = NULL;
#endif
	(void)rt;
	(void)co;
}

void corun__hook_before(struct corun__rt *rt, struct corun__co *cur, struct corun__co *next)
{
#ifdef CORUN__ASAN
	const void *bottom = next == &rt->main ? rt->hooks.main_bottom : next->stack.lo;
	size_t size = next == &rt->main ? rt->hooks.main_size : next->stack.size;
	/* A coroutine that ended will never come back: no fake stack to keep. */
	__sanitizer_start_switch_fiber(cur->state == CORUN__ENDED ? NULL : &cur->asan_fake,
				       bottom, size);
	rt->hooks.from = cur;
#endif
	/* TSan's fiber switch is not here but in the scheduler, right before
	 * the context switch (see CORUN__TOOL_SWITCH_FIBER). */
	(void)rt;
	(void)cur;
	(void)next;
}

void corun__hook_after(struct corun__rt *rt, struct corun__co *cur)
{
#ifdef CORUN__ASAN
	const void *bottom;
	size_t size;
	__sanitizer_finish_switch_fiber(cur->asan_fake, &bottom, &size);
	/* The main context's stack is the one corun did not make: learn its
	 * bounds the first time we leave it. */
	if (rt->hooks.from == &rt->main) {
		rt->hooks.main_bottom = bottom;
		rt->hooks.main_size = size;
	}
#endif
	(void)rt;
	(void)cur;
}
