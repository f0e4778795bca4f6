/*
 * The context switch: the only interface between the portable runtime and an
 * ABI. One implementation per ABI lives in src/arch/<arch>/, one .S file
 * each, chosen by the build system. Nothing here knows about coroutines,
 * queues or handles.
 *
 * A suspended context is one pointer: the stack pointer at which its saved
 * registers and resume address sit (the layout is private to each .S file).
 */
#ifndef CORUN_ARCH_SWITCH_H
#define CORUN_ARCH_SWITCH_H

/* Stack tops handed to corun__ctx_make must be aligned to this (every ABI
 * we target asks for 16 bytes at a call). */
#define CORUN__CTX_ALIGN 16

/*
 * Prepare a context on a fresh stack whose highest usable address is `top`
 * (exclusive, CORUN__CTX_ALIGN-aligned). The first switch into it calls
 * entry(arg) on that stack, with the floating-point control state that was
 * current when corun__ctx_make ran (as a new thread inherits its creator's).
 * entry must never return. Writes below `top` only; returns the context.
 */
void *corun__ctx_make(void *top, void (*entry)(void *), void *arg);

/*
 * Save the running context into *save and resume `to`. The value `carry`
 * becomes the return value of the corun__ctx_switch call that suspended `to`
 * (a fresh context ignores it). So a function that ends in
 *     return corun__ctx_switch(...);
 * compiles to a tail jump, and is resumed straight at its own caller: the
 * switch then saves the caller's return address, which is what makes a park
 * cost one predicted indirect jump (see the measurements in the .S file).
 *
 * Saves and restores what the ABI calls callee-saved, including the
 * floating-point control state (on x86_64: MXCSR and the x87 control word).
 */
int corun__ctx_switch(void **save, void *to, int carry);

#endif
