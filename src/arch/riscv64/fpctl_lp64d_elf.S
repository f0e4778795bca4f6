/*
 * corun's floating-point control state: RISC-V 64, LP64D ABI, ELF, GNU
 * assembler. The other half of src/arch/switch.h's interface, apart from
 * the switch (switch_lp64d_elf.S) because it belongs to the ABI, not to how
 * contexts are switched: the ucontext fallback uses it too.
 */

	.text

/* fcsr holds two fields with their own CSR addresses: frm, the dynamic
 * rounding mode (control), and fflags, the accrued exception flags
 * (status). C code expects a flag raised before a park to be there after
 * it, as after a call, so the flags stay the thread's: both functions go
 * through the frm CSR alone, which reads and writes no flag. frm is the
 * whole control state of the scalar floating-point unit (the base ISA has
 * no flush-to-zero or trap enables), so the state is its 3 bits, zero-
 * extended, which frrm returns as they are. Without the F extension
 * (soft-float, only under the ucontext fallback: the switch wants LP64D)
 * there is no floating-point CSR and the rounding mode is always to
 * nearest: the state is empty, 0. */

/* uint64_t corun__fpctl_get(void): frm in bits 0-2. */
	.globl	corun__fpctl_get
	.hidden	corun__fpctl_get
	.type	corun__fpctl_get,@function
	.p2align 2
corun__fpctl_get:
	.cfi_startproc
#if defined(__riscv_flen)
	frrm	a0
#else
	li	a0, 0
#endif
	ret
	.cfi_endproc
	.size	corun__fpctl_get,.-corun__fpctl_get

/* void corun__fpctl_set(uint64_t state): the inverse; writing frm leaves
 * fflags as they are. */
	.globl	corun__fpctl_set
	.hidden	corun__fpctl_set
	.type	corun__fpctl_set,@function
	.p2align 2
corun__fpctl_set:
	.cfi_startproc
#if defined(__riscv_flen)
	fsrm	a0
#endif
	ret
	.cfi_endproc
	.size	corun__fpctl_set,.-corun__fpctl_set

	.section .note.GNU-stack,"",@progbits
