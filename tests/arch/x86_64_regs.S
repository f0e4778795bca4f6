/*
 * Test helper: int regs_survive(void (*fn)(void), uint64_t seed)
 * Loads rbx, rbp and r12-r15 with values derived from seed, calls fn, and
 * returns a bit mask of the registers that no longer hold their value
 * (bit 0 rbx, 1 rbp, 2 r12, 3 r13, 4 r14, 5 r15). The caller's own values of
 * these registers are saved and restored around all that.
 */
	.text
	.globl	regs_survive
	.type	regs_survive,@function
	.p2align 4
regs_survive:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	pushq	%rsi			/* keep seed; also aligns rsp for the call */
	movq	%rsi, %rbx
	leaq	1(%rsi), %rbp
	leaq	2(%rsi), %r12
	leaq	3(%rsi), %r13
	leaq	4(%rsi), %r14
	leaq	5(%rsi), %r15
	callq	*%rdi
	movq	(%rsp), %rsi		/* seed */
	xorl	%eax, %eax
	cmpq	%rsi, %rbx
	je	1f
	orl	$1, %eax
1:	leaq	1(%rsi), %rcx
	cmpq	%rcx, %rbp
	je	1f
	orl	$2, %eax
1:	leaq	2(%rsi), %rcx
	cmpq	%rcx, %r12
	je	1f
	orl	$4, %eax
1:	leaq	3(%rsi), %rcx
	cmpq	%rcx, %r13
	je	1f
	orl	$8, %eax
1:	leaq	4(%rsi), %rcx
	cmpq	%rcx, %r14
	je	1f
	orl	$16, %eax
1:	leaq	5(%rsi), %rcx
	cmpq	%rcx, %r15
	je	1f
	orl	$32, %eax
1:	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size	regs_survive,.-regs_survive

	.section .note.GNU-stack,"",@progbits
