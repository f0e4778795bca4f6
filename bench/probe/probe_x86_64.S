/*
 * Throwaway-quality probe, kept so the figures in src/arch/x86_64 can be
 * re-measured: four minimal switches that differ only in how they return and
 * how much floating-point control state they carry. Same frame as the real
 * switch (six general registers pushed, sp saved through rdi, new sp in rsi).
 */
	.text

	.globl	probe_ret
	.type	probe_ret,@function
	.p2align 4
probe_ret:				/* return by ret (the seed's way) */
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size	probe_ret,.-probe_ret

	.globl	probe_jmp
	.type	probe_jmp,@function
	.p2align 4
probe_jmp:				/* return by indirect jmp */
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	popq	%rcx
	jmp	*%rcx
	.size	probe_jmp,.-probe_jmp

	.globl	probe_jmp_stmxcsr
	.type	probe_jmp_stmxcsr,@function
	.p2align 4
probe_jmp_stmxcsr:			/* jmp, plus reading MXCSR only */
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	popq	%rcx
	jmp	*%rcx
	.size	probe_jmp_stmxcsr,.-probe_jmp_stmxcsr

	.globl	probe_jmp_fp
	.type	probe_jmp_fp,@function
	.p2align 4
probe_jmp_fp:				/* jmp, MXCSR and x87 CW saved and restored */
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	popq	%rcx
	jmp	*%rcx
	.size	probe_jmp_fp,.-probe_jmp_fp

	.globl	probe_ret_fp
	.type	probe_ret_fp,@function
	.p2align 4
probe_ret_fp:				/* ret, MXCSR and x87 CW saved and restored */
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size	probe_ret_fp,.-probe_ret_fp

	.section .note.GNU-stack,"",@progbits
