/*
 * The context switch: the only interface between the portable runtime and an
 * ABI. One implementation per ABI lives in src/arch/<arch>/, one .S file
 * each (x86_64, aarch64, riscv64), and one portable fallback on ucontext
 * in src/arch/ucontext/; the build system picks one (CORUN_SWITCH). Nothing
 * here knows about coroutines, queues or handles.
 *
 * A suspended context is one pointer: the address on its own stack at which
 * its saved registers and resume address sit (the layout is private to each
 * implementation; its ctx.h describes it to debuggers, src/core/layout.c).
 */
#ifndef CORUN_ARCH_SWITCH_H
#define CORUN_ARCH_SWITCH_H

#include <stddef.h>
#include <stdint.h>

/* Each ABI's header defines CORUN__CTX_FRAME: the bytes a context's saved
 * frame takes, which corun__ctx_make writes right below `top` and a
 * suspended context keeps at its address. The runtime needs it to prepare
 * a reused stack (under valgrind) and to fetch a fresh context ahead. */
#if defined(CORUN__SWITCH_UCONTEXT)
#include "ucontext/ctx.h"
#elif defined(__x86_64__)
#include "x86_64/ctx.h"
#elif defined(__aarch64__)
#include "aarch64/ctx.h"
#elif defined(__riscv) && __riscv_xlen == 64
#include "riscv64/ctx.h"
#else
#error "corun has no assembly switch for this architecture: build with -DCORUN_SWITCH=ucontext"
#endif

/* Stack tops handed to corun__ctx_make must be aligned to this (every ABI
 * we target asks for 16 bytes at a call). */
#define CORUN__CTX_ALIGN 16

/*
 * Prepare a context on a fresh stack whose highest usable address is `top`
 * (exclusive, CORUN__CTX_ALIGN-aligned) and which has `size` usable bytes
 * below it. The first switch into it calls entry(arg) on that stack. entry
 * must never return. Writes below `top` only; returns the context. (The
 * assembly switches need only `top`; makecontext wants the whole stack.)
 */
void *corun__ctx_make(void *top, void (*entry)(void *), void *arg, size_t size);

/*
 * Save the running context into *save and resume `to`. The value `carry`
 * becomes the return value of the corun__ctx_switch call that suspended `to`
 * (a fresh context ignores it). So a function that ends in
 *     return corun__ctx_switch(...);
 * compiles to a tail jump, and is resumed straight at its own caller: the
 * switch then saves the caller's return address, which is what makes a park
 * cost one predicted indirect jump (see the measurements in the .S file).
 *
 * Saves and restores the callee-saved general registers (and, where the ABI
 * makes them callee-saved, vector registers). Not the floating-point control
 * state: that is the pair of functions below, which the scheduler calls only
 * for the contexts that need it, since reading it costs more than the rest
 * of the switch (see the measurements in the .S file).
 */
int corun__ctx_switch(void **save, void *to, int carry);

/*
 * Leave the running context for good and resume `to`, first calling
 * fn(arg) on to's stack, right below its saved frame, where nothing is
 * live: so fn may give back the stack being left, which nothing can do
 * while running on it. `to` then resumes as from corun__ctx_switch, with
 * 0, or starts if it is fresh. The runtime ends coroutines through it
 * when their stack cannot go back to the pool without allocating (Boost's
 * ontop_fcontext is the same idea).
 */
_Noreturn void corun__ctx_exit(void *to, void (*fn)(void *), void *arg);

/* The floating-point control state the ABI makes callee-saved (x86_64:
 * MXCSR's control bits and the x87 control word; AArch64: FPCR; RISC-V:
 * frm; elsewhere, under the fallback, the C rounding mode), packed in 64 bits, which hold it on every ABI we target. Equal
 * values mean equal states, so a caller can skip a load that would change
 * nothing. The exception flags are not part of it: get leaves them out, and
 * set keeps the ones raised now (where one register holds both, as MXCSR). */
uint64_t corun__fpctl_get(void);
void corun__fpctl_set(uint64_t state);

#endif
