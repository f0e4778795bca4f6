/*
 * corun context switch: x86_64, System V ABI, ELF, GNU assembler.
 *
 * Frame kept on a suspended context's own stack; the context is its address.
 *
 *   offset  saved
 *   0x00    r15
 *   0x08    r14
 *   0x10    r13
 *   0x18    r12
 *   0x20    rbx
 *   0x28    rbp
 *   0x30    resume address (the return address of the suspended call)
 *   0x38    the suspended caller's frame; for a fresh context, `top`
 *
 * ctx.h repeats these offsets for debuggers (CORUN__CTX_PC and
 * CORUN__CTX_REGS, read by tools/gdb through src/core/layout.c): change
 * both together.
 *
 * Why it returns by `jmp` and not `ret`
 *   bench/probe times the variants of this switch side by side (its
 *   figures, per machine, are in bench/results/probe.txt): returning by
 *   `ret` costs several times what returning by `jmp` does. A `ret` is predicted from the return-stack buffer, which holds the call
 *   site of the side that is leaving; whenever the two sides suspended at
 *   different call sites (main vs coroutine, first entry, join) it
 *   mispredicts. An indirect `jmp` is predicted from the branch target
 *   buffer and its history instead, and is right in steady state.
 *   The switch therefore pops the resume address and jumps to it. The runtime
 *   calls it in tail position (`return corun__ctx_switch(...)`, which is why
 *   the carried value is an int, the type that `corun_park` returns), so the
 *   resume address saved is the user's own call site of corun_park: a park
 *   costs one predicted jump and no return at all. The return-stack entry
 *   pushed by the user's `call` is left behind; it costs at most one
 *   mispredicted `ret` when that user function itself returns.
 *
 * Why the floating-point control state is not in the switch
 *   The ABI makes the control bits of MXCSR and the x87 control word
 *   callee-saved, so a coroutine that sets a rounding mode must not lend it
 *   to the others. But saving and restoring it with the x87 control word
 *   doubles the cost of the six-register switch (bench/probe again). So
 *   the switch leaves it alone, and corun__fpctl_get / corun__fpctl_set
 *   (fpctl_sysv_elf.S) are called by the scheduler only around coroutines
 *   spawned with CORUN_FPCTL, which keep their own state; every other
 *   coroutine shares the main context's, which the scheduler puts back
 *   whenever it leaves one of those.
 *
 * CET: the file claims neither IBT nor shadow stacks (it has no GNU property
 * note), so a program that links it runs with both off. The resume `jmp`
 * lands on ordinary return sites, which have no endbr64, and a switch that
 * does not return the way it was called cannot keep a shadow stack balanced.
 * The entries still start with endbr64 when the compiler targets IBT, so
 * that they are valid targets of indirect calls should a later version add
 * per-coroutine shadow stacks and the matching landing pads.
 */

#include "ctx.h"

#if defined(__CET__) && (__CET__ & 1)
#define ENDBR endbr64
#else
#define ENDBR
#endif

/* Pop a saved frame's callee-saved registers (rsp pointing at it), up to
 * its resume address. */
.macro POP_FRAME
	popq	%r15
	.cfi_adjust_cfa_offset -8
	.cfi_restore r15
	popq	%r14
	.cfi_adjust_cfa_offset -8
	.cfi_restore r14
	popq	%r13
	.cfi_adjust_cfa_offset -8
	.cfi_restore r13
	popq	%r12
	.cfi_adjust_cfa_offset -8
	.cfi_restore r12
	popq	%rbx
	.cfi_adjust_cfa_offset -8
	.cfi_restore rbx
	popq	%rbp
	.cfi_adjust_cfa_offset -8
	.cfi_restore rbp
.endm

	.text

/* void *corun__ctx_make(void *top, void (*entry)(void *), void *arg)
 *   rdi = top (16-byte aligned), rsi = entry, rdx = arg; returns the context. */
	.globl	corun__ctx_make
	.hidden	corun__ctx_make
	.type	corun__ctx_make,@function
	.p2align 4
corun__ctx_make:
	.cfi_startproc
	ENDBR
	leaq	-CORUN__CTX_FRAME(%rdi), %rax	/* the frame sits right below top */
	xorl	%ecx, %ecx
	movq	%rcx, 0x00(%rax)	/* r15 */
	movq	%rcx, 0x08(%rax)	/* r14 */
	movq	%rcx, 0x10(%rax)	/* r13 */
	movq	%rsi, 0x18(%rax)	/* r12 = entry, for corun__ctx_start */
	movq	%rdx, 0x20(%rax)	/* rbx = arg, for corun__ctx_start */
	movq	%rcx, 0x28(%rax)	/* rbp = 0 ends frame-pointer walks */
	leaq	corun__ctx_start(%rip), %rcx
	movq	%rcx, 0x30(%rax)	/* first resume lands in the trampoline */
	ret
	.cfi_endproc
	.size	corun__ctx_make,.-corun__ctx_make

/* int corun__ctx_switch(void **save, void *to, int carry)
 *   rdi = where to store our context, rsi = context to resume,
 *   edx = value the resumed side's corun__ctx_switch call returns.
 *   No vector register is callee-saved in this ABI: nothing else to keep. */
	.globl	corun__ctx_switch
	.hidden	corun__ctx_switch
	.type	corun__ctx_switch,@function
	.p2align 4
corun__ctx_switch:
	.cfi_startproc
	ENDBR
	pushq	%rbp			/* callee-saved registers, on our stack */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r15, 0
	movq	%rsp, (%rdi)		/* publish our context */

	/* From here on we are the other side. Its frame has the very layout
	 * ours has, so the unwind rules above describe it too: a profiler that
	 * samples here walks into the resumed side's caller. */
	movq	%rsi, %rsp
	POP_FRAME
	popq	%rcx			/* its resume address */
	.cfi_adjust_cfa_offset -8
	.cfi_register rip, rcx
	movl	%edx, %eax		/* its suspended call returns carry */
	jmp	*%rcx			/* predicted by the BTB, not the RSB */
	.cfi_endproc
	.size	corun__ctx_switch,.-corun__ctx_switch

/* void corun__ctx_exit(void *to, void (*fn)(void *), void *arg)
 *   rdi = context to resume, rsi = fn, rdx = arg. Restores to's registers
 *   as the switch does, then calls fn(arg) below its resume address, where
 *   its stack is free (a suspended context holds nothing below its frame),
 *   16-byte aligned as the ABI asks at a call: the resume address sits at
 *   8 mod 16, as every return address does. fn keeps the callee-saved
 *   registers; then to resumes with eax = 0. Nothing returns here: unwinding
 *   stops at this frame. */
	.globl	corun__ctx_exit
	.hidden	corun__ctx_exit
	.type	corun__ctx_exit,@function
	.p2align 4
corun__ctx_exit:
	.cfi_startproc
	.cfi_undefined rip
	ENDBR
	movq	%rsi, %rax		/* fn, out of the argument registers */
	movq	%rdi, %rsp
	.cfi_def_cfa rsp, CORUN__CTX_FRAME /* keeps POP_FRAME's offsets true */
	POP_FRAME
	movq	%rdx, %rdi		/* fn(arg) */
	subq	$8, %rsp		/* the resume address stays at 8(%rsp) */
	callq	*%rax
	addq	$8, %rsp
	popq	%rcx			/* its resume address */
	xorl	%eax, %eax		/* its suspended call returns 0 */
	jmp	*%rcx
	.cfi_endproc
	.size	corun__ctx_exit,.-corun__ctx_exit

/* Where a fresh context starts: rbx = arg, r12 = entry, rsp = top (16-byte
 * aligned, so the call below meets the ABI). Unwinding stops here: there is no
 * caller to return to, and gdb's backtrace ends at this frame. */
	.type	corun__ctx_start,@function
	.p2align 4
corun__ctx_start:
	.cfi_startproc
	.cfi_undefined rip
	ENDBR
	movq	%rbx, %rdi		/* entry(arg) */
	callq	*%r12
	ud2				/* entry must not return */
	.cfi_endproc
	.size	corun__ctx_start,.-corun__ctx_start

	.section .note.GNU-stack,"",@progbits
