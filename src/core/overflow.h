/*
 * Stack overflow reports (overflow.c): the SIGSEGV/SIGBUS handler, once per
 * process, and each thread's alternate signal stack.
 */
#ifndef CORUN_OVERFLOW_H
#define CORUN_OVERFLOW_H

struct corun__rt;

/* The runtime's part. */
struct corun__overflow {
	void *altstack;         /* our alternate signal stack */
};

void corun__overflow_init(struct corun__rt *rt);
void corun__overflow_fini(struct corun__rt *rt);

#endif
