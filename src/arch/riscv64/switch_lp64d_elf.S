/*
 * corun context switch: RISC-V 64, LP64D ABI (RV64 with the D extension),
 * ELF, GNU assembler.
 *
 * Frame kept on a suspended context's own stack; the context is its address.
 *
 *   offset  saved
 *   0x00    resume address (ra at the suspended call: where it returns)
 *   0x08    s0 (fp)
 *   0x10    s1
 *   ...     s2-s10, 8 bytes each
 *   0x60    s11
 *   0x68    fs0
 *   ...     fs1-fs10, 8 bytes each
 *   0xc0    fs11
 *   0xc8    padding: the ABI keeps sp 16-byte aligned
 *   0xd0    the suspended caller's frame; for a fresh context, `top`
 *
 * ctx.h repeats these offsets for debuggers (CORUN__CTX_PC and
 * CORUN__CTX_REGS, read by tools/gdb through src/core/layout.c): change
 * both together.
 *
 * There is no push here as on x86_64: the switch makes room for the whole
 * frame with one adjustment of sp and stores into it, and the resume address
 * is ra as the caller left it, saved like any other register.
 *
 * Why it resumes by `jr t1` and not `ret`
 *   The reason is the one the x86_64 switch gives for `jmp` over `ret`
 *   (measured there by bench/probe; its figures, per machine, are in
 *   bench/results/probe.txt). The base ISA tells the return-address stack
 *   predictor what a jalr is from its registers alone: x1 (ra) and x5 (t0)
 *   are the link registers, and a jalr that writes neither but reads one of
 *   them is a return (pop), one that writes one is a call (push). `ret`
 *   (jalr x0, 0(ra)) would pop the call site of the side that is leaving,
 *   which mispredicts whenever the two sides suspended at different call
 *   sites (main vs coroutine, first entry, join); `jr t0` would too. A jalr
 *   that neither reads nor writes a link register is a plain indirect jump,
 *   predicted from its target history instead, and that is right in steady
 *   state. So the resume address goes into t1, a temporary no one expects
 *   to hold anything at the resume site, and the switch jumps through it.
 *   (Not measured on RISC-V hardware: the argument rests on the hint
 *   encoding the ISA specifies, which cores with a return-address stack
 *   follow.) The runtime calls it in tail position (`return
 *   corun__ctx_switch(...)`, which is why the carried value is an int, the
 *   type that `corun_park` returns), so the resume address saved is the
 *   user's own call site of corun_park: a park costs one predicted jump and
 *   no return at all. The return-stack entry pushed by the user's call is
 *   left behind; it costs at most one mispredicted return when that user
 *   function itself returns.
 *
 * Why the floating-point control state is not in the switch
 *   The psABI gives fcsr thread storage duration (as C11 gives the
 *   floating-point environment); corun treats the rounding mode (frm) of a
 *   coroutine spawned with CORUN_FPCTL as that coroutine's own, and the
 *   exception flags (fflags) as the thread's. Keeping frm in the switch
 *   would add a CSR read and a CSR write to every switch; cores commonly
 *   serialize CSR accesses instead of renaming them (not measured here; on
 *   x86_64 the like doubles the switch's cost, bench/probe). So the
 *   switch leaves it alone, and corun__fpctl_get / corun__fpctl_set
 *   (fpctl_lp64d_elf.S) are called by the scheduler only around coroutines
 *   spawned with CORUN_FPCTL, which keep their own state; every other
 *   coroutine shares the main context's, which the scheduler puts back
 *   whenever it leaves one of those.
 *
 * Not saved: gp and tp belong to the program and the thread, which all
 * contexts share; no vector register, nor vl or vtype, is preserved across
 * calls in this ABI (vxrm and vxsat have thread storage duration, as fcsr
 * has, and corun leaves them the thread's); t0-t6, a0-a7 and the other
 * floating-point registers are caller-saved.
 *
 * Compressed instructions: the assembler may encode any of the instructions
 * below in 16 bits (rv64gc). Nothing depends on their lengths: the only
 * code addresses handled are return addresses written by jal/jalr and the
 * trampoline's symbol.
 */

#include "ctx.h"

/* Load a saved frame (sp pointing at it): t1 = its resume address, and
 * its callee-saved registers. */
.macro LOAD_FRAME
	ld	t1, 0x00(sp)		/* its resume address */
	ld	s0, 0x08(sp)
	.cfi_restore s0
	ld	s1, 0x10(sp)
	.cfi_restore s1
	ld	s2, 0x18(sp)
	.cfi_restore s2
	ld	s3, 0x20(sp)
	.cfi_restore s3
	ld	s4, 0x28(sp)
	.cfi_restore s4
	ld	s5, 0x30(sp)
	.cfi_restore s5
	ld	s6, 0x38(sp)
	.cfi_restore s6
	ld	s7, 0x40(sp)
	.cfi_restore s7
	ld	s8, 0x48(sp)
	.cfi_restore s8
	ld	s9, 0x50(sp)
	.cfi_restore s9
	ld	s10, 0x58(sp)
	.cfi_restore s10
	ld	s11, 0x60(sp)
	.cfi_restore s11
	fld	fs0, 0x68(sp)
	.cfi_restore fs0
	fld	fs1, 0x70(sp)
	.cfi_restore fs1
	fld	fs2, 0x78(sp)
	.cfi_restore fs2
	fld	fs3, 0x80(sp)
	.cfi_restore fs3
	fld	fs4, 0x88(sp)
	.cfi_restore fs4
	fld	fs5, 0x90(sp)
	.cfi_restore fs5
	fld	fs6, 0x98(sp)
	.cfi_restore fs6
	fld	fs7, 0xa0(sp)
	.cfi_restore fs7
	fld	fs8, 0xa8(sp)
	.cfi_restore fs8
	fld	fs9, 0xb0(sp)
	.cfi_restore fs9
	fld	fs10, 0xb8(sp)
	.cfi_restore fs10
	fld	fs11, 0xc0(sp)
	.cfi_restore fs11
.endm

	.text

/* void *corun__ctx_make(void *top, void (*entry)(void *), void *arg,
 *                       size_t size)
 *   a0 = top (16-byte aligned), a1 = entry, a2 = arg, a3 = size (unused:
 *   the frame needs only top); returns the context. */
	.globl	corun__ctx_make
	.hidden	corun__ctx_make
	.type	corun__ctx_make,@function
	.p2align 2
corun__ctx_make:
	.cfi_startproc
	addi	a0, a0, -CORUN__CTX_FRAME	/* the frame sits right below top */
	lla	t0, corun__ctx_start
	sd	t0, 0x00(a0)		/* first resume lands in the trampoline */
	sd	zero, 0x08(a0)		/* s0 = 0 ends frame-pointer walks */
	sd	a1, 0x10(a0)		/* s1 = entry, for corun__ctx_start */
	sd	a2, 0x18(a0)		/* s2 = arg, for corun__ctx_start */
	sd	zero, 0x20(a0)		/* s3 */
	sd	zero, 0x28(a0)		/* s4 */
	sd	zero, 0x30(a0)		/* s5 */
	sd	zero, 0x38(a0)		/* s6 */
	sd	zero, 0x40(a0)		/* s7 */
	sd	zero, 0x48(a0)		/* s8 */
	sd	zero, 0x50(a0)		/* s9 */
	sd	zero, 0x58(a0)		/* s10 */
	sd	zero, 0x60(a0)		/* s11 */
	sd	zero, 0x68(a0)		/* fs0-fs11 = +0.0: every byte of the */
	sd	zero, 0x70(a0)		/* frame is written, so the first     */
	sd	zero, 0x78(a0)		/* resume loads nothing undefined     */
	sd	zero, 0x80(a0)
	sd	zero, 0x88(a0)
	sd	zero, 0x90(a0)
	sd	zero, 0x98(a0)
	sd	zero, 0xa0(a0)
	sd	zero, 0xa8(a0)
	sd	zero, 0xb0(a0)
	sd	zero, 0xb8(a0)
	sd	zero, 0xc0(a0)
	sd	zero, 0xc8(a0)		/* padding */
	ret
	.cfi_endproc
	.size	corun__ctx_make,.-corun__ctx_make

/* int corun__ctx_switch(void **save, void *to, int carry)
 *   a0 = where to store our context, a1 = context to resume,
 *   a2 = value the resumed side's corun__ctx_switch call returns (an int
 *   argument arrives sign-extended, as an int result must leave). */
	.globl	corun__ctx_switch
	.hidden	corun__ctx_switch
	.type	corun__ctx_switch,@function
	.p2align 2
corun__ctx_switch:
	.cfi_startproc
	addi	sp, sp, -CORUN__CTX_FRAME	/* callee-saved registers, on our stack */
	.cfi_adjust_cfa_offset CORUN__CTX_FRAME
	sd	ra, 0x00(sp)
	.cfi_rel_offset ra, 0x00
	sd	s0, 0x08(sp)
	.cfi_rel_offset s0, 0x08
	sd	s1, 0x10(sp)
	.cfi_rel_offset s1, 0x10
	sd	s2, 0x18(sp)
	.cfi_rel_offset s2, 0x18
	sd	s3, 0x20(sp)
	.cfi_rel_offset s3, 0x20
	sd	s4, 0x28(sp)
	.cfi_rel_offset s4, 0x28
	sd	s5, 0x30(sp)
	.cfi_rel_offset s5, 0x30
	sd	s6, 0x38(sp)
	.cfi_rel_offset s6, 0x38
	sd	s7, 0x40(sp)
	.cfi_rel_offset s7, 0x40
	sd	s8, 0x48(sp)
	.cfi_rel_offset s8, 0x48
	sd	s9, 0x50(sp)
	.cfi_rel_offset s9, 0x50
	sd	s10, 0x58(sp)
	.cfi_rel_offset s10, 0x58
	sd	s11, 0x60(sp)
	.cfi_rel_offset s11, 0x60
	fsd	fs0, 0x68(sp)
	.cfi_rel_offset fs0, 0x68
	fsd	fs1, 0x70(sp)
	.cfi_rel_offset fs1, 0x70
	fsd	fs2, 0x78(sp)
	.cfi_rel_offset fs2, 0x78
	fsd	fs3, 0x80(sp)
	.cfi_rel_offset fs3, 0x80
	fsd	fs4, 0x88(sp)
	.cfi_rel_offset fs4, 0x88
	fsd	fs5, 0x90(sp)
	.cfi_rel_offset fs5, 0x90
	fsd	fs6, 0x98(sp)
	.cfi_rel_offset fs6, 0x98
	fsd	fs7, 0xa0(sp)
	.cfi_rel_offset fs7, 0xa0
	fsd	fs8, 0xa8(sp)
	.cfi_rel_offset fs8, 0xa8
	fsd	fs9, 0xb0(sp)
	.cfi_rel_offset fs9, 0xb0
	fsd	fs10, 0xb8(sp)
	.cfi_rel_offset fs10, 0xb8
	fsd	fs11, 0xc0(sp)
	.cfi_rel_offset fs11, 0xc0
	sd	sp, 0(a0)		/* publish our context */

	/* From here on we are the other side. Its frame has the very layout
	 * ours has, so the unwind rules above describe it too: a profiler that
	 * samples here walks into the resumed side's caller. */
	mv	sp, a1
	LOAD_FRAME
	addi	sp, sp, CORUN__CTX_FRAME
	.cfi_adjust_cfa_offset -CORUN__CTX_FRAME
	.cfi_register ra, t1
	mv	a0, a2			/* its suspended call returns carry */
	jr	t1			/* a plain indirect jump: no return-stack pop */
	.cfi_endproc
	.size	corun__ctx_switch,.-corun__ctx_switch

/* void corun__ctx_exit(void *to, void (*fn)(void *), void *arg)
 *   a0 = context to resume, a1 = fn, a2 = arg. Restores to's registers as
 *   the switch does, then calls fn(arg) on its stack below its sp, where
 *   nothing is live, keeping the resume address in the 16 bytes it pushes
 *   there (fn keeps the callee-saved registers); then to resumes with
 *   a0 = 0. Nothing returns here: unwinding stops at this frame. */
	.globl	corun__ctx_exit
	.hidden	corun__ctx_exit
	.type	corun__ctx_exit,@function
	.p2align 2
corun__ctx_exit:
	.cfi_startproc
	.cfi_undefined ra
	mv	t0, a1			/* fn, out of the argument registers */
	mv	sp, a0
	LOAD_FRAME
	addi	sp, sp, CORUN__CTX_FRAME
	addi	sp, sp, -16
	sd	t1, 0(sp)		/* the resume address, across the call */
	mv	a0, a2			/* fn(arg) */
	jalr	t0
	ld	t1, 0(sp)
	addi	sp, sp, 16
	li	a0, 0			/* its suspended call returns 0 */
	jr	t1
	.cfi_endproc
	.size	corun__ctx_exit,.-corun__ctx_exit

/* Where a fresh context starts: s1 = entry, s2 = arg, s0 = 0, sp = top
 * (16-byte aligned, so the call below meets the ABI). Unwinding stops here:
 * there is no caller to return to, and gdb's backtrace ends at this frame;
 * a frame-pointer walk ends at the s0 = 0 that entry saves. */
	.type	corun__ctx_start,@function
	.p2align 2
corun__ctx_start:
	.cfi_startproc
	.cfi_undefined ra
	mv	a0, s2			/* entry(arg) */
	jalr	s1			/* writes ra: predicted as a call */
	unimp				/* entry must not return */
	.cfi_endproc
	.size	corun__ctx_start,.-corun__ctx_start

	.section .note.GNU-stack,"",@progbits
