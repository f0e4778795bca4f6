/*
 * corun context switch: AArch64, AAPCS64, ELF, GNU assembler.
 *
 * Frame kept on a suspended context's own stack; the context is its address
 * (sp stays 16-byte aligned throughout: CORUN__CTX_FRAME is 0xa0).
 *
 *   offset  saved
 *   0x00    d8,  d9
 *   0x10    d10, d11
 *   0x20    d12, d13
 *   0x30    d14, d15
 *   0x40    x19, x20
 *   0x50    x21, x22
 *   0x60    x23, x24
 *   0x70    x25, x26
 *   0x80    x27, x28
 *   0x90    x29 (fp), x30 (resume address: the return address of the
 *           suspended call)
 *   0xa0    the suspended caller's frame; for a fresh context, `top`
 *
 * ctx.h repeats these offsets for debuggers (CORUN__CTX_PC and
 * CORUN__CTX_REGS, read by tools/gdb through src/core/layout.c): change
 * both together.
 *
 * The AAPCS64 makes x19-x28, x29 (the frame pointer), sp and the low 64
 * bits of v8-v15 (that is, d8-d15) callee-saved; everything else a caller
 * already expects a call to clobber, x30 included.
 *
 * Why it resumes by `br` and not `ret`
 *   For the reason the x86_64 switch resumes by `jmp` (switch_sysv_elf.S
 *   has the measurements): a `ret` is predicted from the return stack,
 *   which holds the call site of the side that is leaving, and mispredicts
 *   whenever the two sides suspended at different call sites (main vs
 *   coroutine, first entry, join). `br` is predicted as any indirect branch,
 *   from its target history, and is right in steady state. The resume
 *   address goes through x16 (IP0, a scratch register no caller expects to
 *   survive a call), and x30 is left alone. The runtime calls
 *   the switch in tail position, so the resume address saved is the user's
 *   own call site of corun_park, exactly as on x86_64.
 *   (Not measured on AArch64 hardware here: under qemu, timings say nothing
 *   about prediction. bench/probe has no AArch64 variants yet.)
 *
 * Except with BTI, where it resumes by `ret`
 *   Built with -mbranch-protection=bti or =standard, the program's code is
 *   mapped as guarded pages, and a `br` must land on a `bti j` (or `bti c`
 *   from x16/x17) landing pad. A resume address is a return site, the
 *   instruction after a `bl`, and the compiler puts no landing pad there:
 *   a `br` to it would fault. `ret` is not checked by BTI, so in such a
 *   build the switch resumes by `ret` and pays the return-stack
 *   mispredictions that `br` avoids. That also keeps every return site of
 *   the program off the set of valid indirect-branch targets, which is what
 *   BTI is for.
 *
 * Return address signing (pac-ret)
 *   Functions built with -mbranch-protection=pac-ret or =standard sign their
 *   return address (paciasp) before they keep it in memory and authenticate
 *   it (autiasp) before they return or tail-branch. The switch is a leaf,
 *   reached by `bl` or by such a tail branch, so the x30 it finds is the
 *   plain return address, and it keeps it plain: the resumed side lands
 *   there by `br`/`ret` (neither authenticates), and every signed return
 *   address of the resumed code is in its own frames, signed against its own
 *   sp, which the switch gives back exactly. So nothing here signs or
 *   authenticates, and the CFI needs no .cfi_negate_ra_state. What signing
 *   would add is protection of the resume address while it sits in memory:
 *   it has that of a return address kept by a function built without
 *   pac-ret, as on x86_64 (the file still claims PAC in its property note,
 *   as the objects it links with do, so that linking it does not drop it).
 *
 * Why the floating-point control state is not in the switch
 *   The AAPCS64 treats FPCR (rounding mode, flush-to-zero, default NaN, trap
 *   enables) as state a function must hand back as it found it; but it is a
 *   system register, and reading or writing it costs far more than a load.
 *   So, as on x86_64, the switch leaves it alone, and corun__fpctl_get /
 *   corun__fpctl_set (fpctl_aapcs64_elf.S) are called by the scheduler only
 *   around coroutines spawned with CORUN_FPCTL, which keep their own state;
 *   every other coroutine shares the main context's.
 *
 * Guarded control stack (GCS): the file claims no GCS in its property note,
 * so a program that links it runs without one; a switch that does not return
 * the way it was called cannot keep a single control stack balanced.
 */

#include "ctx.h"
#include "asm.h"

/* Load a saved frame's registers (not x29, x30: each caller has its own
 * way with the resume address), sp pointing at it. */
.macro LOAD_FRAME
	ldp	d8, d9, [sp, #0x00]
	.cfi_restore d8
	.cfi_restore d9
	ldp	d10, d11, [sp, #0x10]
	.cfi_restore d10
	.cfi_restore d11
	ldp	d12, d13, [sp, #0x20]
	.cfi_restore d12
	.cfi_restore d13
	ldp	d14, d15, [sp, #0x30]
	.cfi_restore d14
	.cfi_restore d15
	ldp	x19, x20, [sp, #0x40]
	.cfi_restore x19
	.cfi_restore x20
	ldp	x21, x22, [sp, #0x50]
	.cfi_restore x21
	.cfi_restore x22
	ldp	x23, x24, [sp, #0x60]
	.cfi_restore x23
	.cfi_restore x24
	ldp	x25, x26, [sp, #0x70]
	.cfi_restore x25
	.cfi_restore x26
	ldp	x27, x28, [sp, #0x80]
	.cfi_restore x27
	.cfi_restore x28
.endm

	.text

/* void *corun__ctx_make(void *top, void (*entry)(void *), void *arg,
 *                       size_t size)
 *   x0 = top (16-byte aligned), x1 = entry, x2 = arg, x3 = size (unused
 *   here); returns the context. */
	.globl	corun__ctx_make
	.hidden	corun__ctx_make
	.type	corun__ctx_make,%function
	.p2align 4
corun__ctx_make:
	.cfi_startproc
	BTI_C
	sub	x0, x0, #CORUN__CTX_FRAME	/* the frame sits right below top */
	stp	xzr, xzr, [x0, #0x00]	/* d8, d9 */
	stp	xzr, xzr, [x0, #0x10]	/* d10, d11 */
	stp	xzr, xzr, [x0, #0x20]	/* d12, d13 */
	stp	xzr, xzr, [x0, #0x30]	/* d14, d15 */
	stp	x1, x2, [x0, #0x40]	/* x19 = entry, x20 = arg, for corun__ctx_start */
	stp	xzr, xzr, [x0, #0x50]	/* x21, x22 */
	stp	xzr, xzr, [x0, #0x60]	/* x23, x24 */
	stp	xzr, xzr, [x0, #0x70]	/* x25, x26 */
	stp	xzr, xzr, [x0, #0x80]	/* x27, x28 */
	adr	x9, corun__ctx_start
	stp	xzr, x9, [x0, #0x90]	/* x29 = 0 ends frame-pointer walks; the
					 * first resume lands in the trampoline */
	ret
	.cfi_endproc
	.size	corun__ctx_make,.-corun__ctx_make

/* int corun__ctx_switch(void **save, void *to, int carry)
 *   x0 = where to store our context, x1 = context to resume,
 *   w2 = value the resumed side's corun__ctx_switch call returns. */
	.globl	corun__ctx_switch
	.hidden	corun__ctx_switch
	.type	corun__ctx_switch,%function
	.p2align 4
corun__ctx_switch:
	.cfi_startproc
	BTI_C
	sub	sp, sp, #CORUN__CTX_FRAME	/* callee-saved registers, on our stack */
	.cfi_adjust_cfa_offset CORUN__CTX_FRAME
	stp	x29, x30, [sp, #0x90]
	.cfi_rel_offset x29, 0x90
	.cfi_rel_offset x30, 0x98
	stp	x27, x28, [sp, #0x80]
	.cfi_rel_offset x27, 0x80
	.cfi_rel_offset x28, 0x88
	stp	x25, x26, [sp, #0x70]
	.cfi_rel_offset x25, 0x70
	.cfi_rel_offset x26, 0x78
	stp	x23, x24, [sp, #0x60]
	.cfi_rel_offset x23, 0x60
	.cfi_rel_offset x24, 0x68
	stp	x21, x22, [sp, #0x50]
	.cfi_rel_offset x21, 0x50
	.cfi_rel_offset x22, 0x58
	stp	x19, x20, [sp, #0x40]
	.cfi_rel_offset x19, 0x40
	.cfi_rel_offset x20, 0x48
	stp	d14, d15, [sp, #0x30]
	.cfi_rel_offset d14, 0x30
	.cfi_rel_offset d15, 0x38
	stp	d12, d13, [sp, #0x20]
	.cfi_rel_offset d12, 0x20
	.cfi_rel_offset d13, 0x28
	stp	d10, d11, [sp, #0x10]
	.cfi_rel_offset d10, 0x10
	.cfi_rel_offset d11, 0x18
	stp	d8, d9, [sp, #0x00]
	.cfi_rel_offset d8, 0x00
	.cfi_rel_offset d9, 0x08
	mov	x9, sp			/* (sp cannot be stored directly) */
	str	x9, [x0]		/* publish our context */

	/* From here on we are the other side. Its frame has the very layout
	 * ours has, so the unwind rules above describe it too: a profiler that
	 * samples here walks into the resumed side's caller. */
	mov	sp, x1
	LOAD_FRAME
	mov	w0, w2			/* its suspended call returns carry */
#if CORUN__BTI
	ldp	x29, x30, [sp, #0x90]	/* its resume address, as a return */
	.cfi_restore x29
	.cfi_restore x30
	add	sp, sp, #CORUN__CTX_FRAME
	.cfi_adjust_cfa_offset -CORUN__CTX_FRAME
	ret				/* return sites have no landing pad */
#else
	ldp	x29, x16, [sp, #0x90]	/* its resume address */
	.cfi_restore x29
	.cfi_register x30, x16
	add	sp, sp, #CORUN__CTX_FRAME
	.cfi_adjust_cfa_offset -CORUN__CTX_FRAME
	br	x16			/* predicted as a branch, not a return */
#endif
	.cfi_endproc
	.size	corun__ctx_switch,.-corun__ctx_switch

/* void corun__ctx_exit(void *to, void (*fn)(void *), void *arg)
 *   x0 = context to resume, x1 = fn, x2 = arg. Restores to's registers as
 *   the switch does, then calls fn(arg) on its stack below its sp, where
 *   nothing is live, keeping the resume address in the 16 bytes it pushes
 *   there (fn keeps the callee-saved registers and x29); then to resumes
 *   with w0 = 0, by the same branch the switch takes. Nothing returns here:
 *   unwinding stops at this frame. */
	.globl	corun__ctx_exit
	.hidden	corun__ctx_exit
	.type	corun__ctx_exit,%function
	.p2align 4
corun__ctx_exit:
	.cfi_startproc
	.cfi_undefined x30
	BTI_C
	mov	x16, x1			/* fn, out of the argument registers */
	mov	sp, x0
	LOAD_FRAME
	ldp	x29, x30, [sp, #0x90]
	add	sp, sp, #CORUN__CTX_FRAME
	stp	x30, xzr, [sp, #-16]!	/* the resume address, across the call */
	mov	x0, x2			/* fn(arg) */
	blr	x16
	ldp	x30, x9, [sp], #16
	mov	w0, #0			/* its suspended call returns 0 */
#if CORUN__BTI
	ret				/* return sites have no landing pad */
#else
	mov	x16, x30
	br	x16			/* predicted as a branch, not a return */
#endif
	.cfi_endproc
	.size	corun__ctx_exit,.-corun__ctx_exit

/* Where a fresh context starts: x19 = entry, x20 = arg, x29 = 0, sp = top
 * (16-byte aligned, as the call below needs). Unwinding stops here: there is
 * no caller to return to, and gdb's backtrace ends at this frame. It is
 * reached by the switch's `ret` in a BTI build, which no landing pad is
 * needed for, and by its `br` only in a build without BTI, where no page is
 * guarded: so it has none, and is no valid target of any other indirect
 * branch. */
	.type	corun__ctx_start,%function
	.p2align 4
corun__ctx_start:
	.cfi_startproc
	.cfi_undefined x30
	mov	x0, x20			/* entry(arg) */
	blr	x19
	brk	#0			/* entry must not return */
	.cfi_endproc
	.size	corun__ctx_start,.-corun__ctx_start

	CORUN__GNU_PROPERTY_NOTE

	.section .note.GNU-stack,"",%progbits
