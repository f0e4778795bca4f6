/*
 * Coroutines (coroutine.c): spawn, a coroutine's start and end, join, and
 * the accessors. What the rest of the runtime needs of them.
 */
#ifndef CORUN_COROUTINE_H
#define CORUN_COROUTINE_H

struct corun__rt;

/* The runtime's part: where spawn places records, and where coroutines
 * start. */
struct corun__spawn {
	unsigned color;         /* where the last record went (cache colours) */
	void (*start)(void *);  /* the function every coroutine starts in */
};

/* Set the start function for the runtime's mode: the stack report's
 * (report.h), which measures each stack at its end, or the plain one. A
 * load where spawn took an address, so the mode costs it nothing. */
void corun__start_pick(struct corun__rt *rt);

#endif
