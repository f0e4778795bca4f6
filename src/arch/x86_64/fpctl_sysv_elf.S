/*
 * corun's floating-point control state: x86_64, System V ABI, ELF, GNU
 * assembler. The other half of src/arch/switch.h's interface, apart from
 * the switch (switch_sysv_elf.S) because it belongs to the ABI, not to how
 * contexts are switched: the ucontext fallback uses it too.
 */

#if defined(__CET__) && (__CET__ & 1)
#define ENDBR endbr64
#else
#define ENDBR
#endif

	.text

/* MXCSR's exception flags (IE DE ZE OE UE PE): status, not control. The
 * ABI makes them caller-saved, and C code expects a flag raised before a
 * park to be there after it, as after a call; so corun__fpctl_get leaves
 * them out and corun__fpctl_set keeps the ones the thread has raised.
 * (The x87 status word is apart from its control word and is not touched.) */
#define MXCSR_FLAGS 0x3f

/* uint64_t corun__fpctl_get(void): MXCSR's control bits in bits 0-31, the
 * x87 control word in bits 32-47. Each half is read back with a load of the
 * width it was stored with: one 8-byte load over the two narrower stores
 * would miss store-to-load forwarding. Uses the red zone. */
	.globl	corun__fpctl_get
	.hidden	corun__fpctl_get
	.type	corun__fpctl_get,@function
	.p2align 4
corun__fpctl_get:
	.cfi_startproc
	ENDBR
	stmxcsr	-8(%rsp)
	fnstcw	-4(%rsp)
	movl	-8(%rsp), %eax		/* MXCSR */
	andl	$~MXCSR_FLAGS, %eax
	movzwl	-4(%rsp), %ecx		/* x87 control word */
	shlq	$32, %rcx
	orq	%rcx, %rax
	ret
	.cfi_endproc
	.size	corun__fpctl_get,.-corun__fpctl_get

/* void corun__fpctl_set(uint64_t state): the inverse, keeping the flags
 * MXCSR holds now. */
	.globl	corun__fpctl_set
	.hidden	corun__fpctl_set
	.type	corun__fpctl_set,@function
	.p2align 4
corun__fpctl_set:
	.cfi_startproc
	ENDBR
	stmxcsr	-8(%rsp)
	movl	-8(%rsp), %eax
	andl	$MXCSR_FLAGS, %eax	/* the thread's flags */
	movl	%edi, %ecx
	andl	$~MXCSR_FLAGS, %ecx
	orl	%ecx, %eax		/* with the state's control bits */
	movl	%eax, -8(%rsp)
	shrq	$32, %rdi
	movw	%di, -4(%rsp)
	ldmxcsr	-8(%rsp)
	fldcw	-4(%rsp)
	ret
	.cfi_endproc
	.size	corun__fpctl_set,.-corun__fpctl_set

	.section .note.GNU-stack,"",@progbits
