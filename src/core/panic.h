/*
 * Broken invariants inside corun: reported with where, then abort.
 */
#ifndef CORUN_PANIC_H
#define CORUN_PANIC_H

/* An invariant broken inside corun: never compiled out, no side effects. */
#define CORUN__ASSERT(cond)                                                   \
	do {                                                                  \
		if (__builtin_expect(!(cond), 0))                             \
			corun__panic(__FILE__, __LINE__, #cond);              \
	} while (0)
_Noreturn void corun__panic(const char *file, int line, const char *what);

#endif
