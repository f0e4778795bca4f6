/*
 * corun's floating-point control state: AArch64, AAPCS64, ELF, GNU
 * assembler. The other half of src/arch/switch.h's interface, apart from
 * the switch (switch_aapcs64_elf.S) because it belongs to the ABI, not to
 * how contexts are switched: the ucontext fallback uses it too.
 */

#include "asm.h"

	.text

/* AArch64 keeps control and status apart: FPCR holds the control bits (the
 * rounding mode, FZ, DN, AHP, FZ16, the trap enables), FPSR the cumulative
 * exception flags (and the saturation flag). The flags are caller-saved
 * status, and C code expects a flag raised before a park to be there after
 * it, as after a call; so only FPCR is read and written, and the flags stay
 * the thread's without any masking. FPCR has no status bit: the state is
 * the whole register, zero-extended as `mrs` reads it. */

/* uint64_t corun__fpctl_get(void): FPCR. */
	.globl	corun__fpctl_get
	.hidden	corun__fpctl_get
	.type	corun__fpctl_get,%function
	.p2align 4
corun__fpctl_get:
	.cfi_startproc
	BTI_C
	mrs	x0, fpcr
	ret
	.cfi_endproc
	.size	corun__fpctl_get,.-corun__fpctl_get

/* void corun__fpctl_set(uint64_t state): the inverse; FPSR is not touched. */
	.globl	corun__fpctl_set
	.hidden	corun__fpctl_set
	.type	corun__fpctl_set,%function
	.p2align 4
corun__fpctl_set:
	.cfi_startproc
	BTI_C
	msr	fpcr, x0
	ret
	.cfi_endproc
	.size	corun__fpctl_set,.-corun__fpctl_set

	CORUN__GNU_PROPERTY_NOTE

	.section .note.GNU-stack,"",%progbits
