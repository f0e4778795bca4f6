/*
 * What the ucontext fallback (switch_ucontext.c) tells the rest of corun
 * about its frame: the struct a context keeps on its own stack.
 */
#ifndef CORUN_ARCH_UCONTEXT_CTX_H
#define CORUN_ARCH_UCONTEXT_CTX_H

#include <fenv.h>
#include <stddef.h>
#include <ucontext.h>

/* A suspended context: what swapcontext saved, and what its resumer hands
 * over (the carried int and the floating-point environment; see the .c
 * file). A fresh context's frame also holds its entry and argument. */
struct corun__uframe {
	ucontext_t uc;
	fenv_t fe;
	int carry;
	void (*entry)(void *);
	void *arg;
};

#define CORUN__CTX_FRAME ((sizeof(struct corun__uframe) + 15) & ~(size_t)15)

#endif
