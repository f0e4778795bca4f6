/*
 * Test helper: int regs_survive(void (*fn)(void), uint64_t seed)
 * Loads x19-x28, x29 and d8-d15 with values derived from seed (seed + k for
 * the k-th of them, in that order), calls fn, and returns a bit mask of the
 * registers that no longer hold their value (bits 0-9 x19-x28, bit 10 x29,
 * bits 11-18 d8-d15). The caller's own values of these registers are saved
 * and restored around all that.
 *
 * Written apart from the library's src/arch/aarch64/asm.h on purpose: its
 * landing pads and property note are its own, so a mistake there cannot
 * hide one here. Built with branch protection, it has `bti c` at its entry,
 * signs its return address (it keeps it in memory across fn), and claims
 * both in its GNU property note, so that the test program keeps the BTI
 * property.
 */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define BTI_C	bti c
#define HAS_BTI	1
#else
#define BTI_C
#define HAS_BTI	0
#endif
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define SIGN	paciasp
#define AUTH	autiasp
#define HAS_PAC	1
#else
#define SIGN
#define AUTH
#define HAS_PAC	0
#endif

/* Frame: x29, x30 at 0; x19-x28 at 0x10; d8-d15 at 0x60; seed at 0xa0. */
#define FRAME 0xb0

/* Sets w0's bit `bit` when register `reg` (a general one) differs from
 * x1 + k; x9 and x10 are scratch. (Assembler macros: the preprocessor's
 * would take `#` for its own.) */
	.macro	check_x reg, k, bit
	add	x9, x1, #\k
	cmp	\reg, x9
	cset	w10, ne
	orr	w0, w0, w10, lsl #\bit
	.endm

	.macro	check_d reg, k, bit
	fmov	x11, \reg
	check_x	x11, \k, \bit
	.endm

	.text
	.globl	regs_survive
	.type	regs_survive,%function
	.p2align 4
regs_survive:
	BTI_C
	SIGN
	stp	x29, x30, [sp, #-FRAME]!
	stp	x19, x20, [sp, #0x10]
	stp	x21, x22, [sp, #0x20]
	stp	x23, x24, [sp, #0x30]
	stp	x25, x26, [sp, #0x40]
	stp	x27, x28, [sp, #0x50]
	stp	d8, d9, [sp, #0x60]
	stp	d10, d11, [sp, #0x70]
	stp	d12, d13, [sp, #0x80]
	stp	d14, d15, [sp, #0x90]
	str	x1, [sp, #0xa0]		/* keep seed */
	mov	x19, x1
	add	x20, x1, #1
	add	x21, x1, #2
	add	x22, x1, #3
	add	x23, x1, #4
	add	x24, x1, #5
	add	x25, x1, #6
	add	x26, x1, #7
	add	x27, x1, #8
	add	x28, x1, #9
	add	x29, x1, #10
	add	x9, x1, #11
	fmov	d8, x9
	add	x9, x1, #12
	fmov	d9, x9
	add	x9, x1, #13
	fmov	d10, x9
	add	x9, x1, #14
	fmov	d11, x9
	add	x9, x1, #15
	fmov	d12, x9
	add	x9, x1, #16
	fmov	d13, x9
	add	x9, x1, #17
	fmov	d14, x9
	add	x9, x1, #18
	fmov	d15, x9
	blr	x0
	ldr	x1, [sp, #0xa0]		/* seed (sp is fn's to keep, x29 ours) */
	mov	w0, #0
	check_x	x19, 0, 0
	check_x	x20, 1, 1
	check_x	x21, 2, 2
	check_x	x22, 3, 3
	check_x	x23, 4, 4
	check_x	x24, 5, 5
	check_x	x25, 6, 6
	check_x	x26, 7, 7
	check_x	x27, 8, 8
	check_x	x28, 9, 9
	check_x	x29, 10, 10
	check_d	d8, 11, 11
	check_d	d9, 12, 12
	check_d	d10, 13, 13
	check_d	d11, 14, 14
	check_d	d12, 15, 15
	check_d	d13, 16, 16
	check_d	d14, 17, 17
	check_d	d15, 18, 18
	ldp	x19, x20, [sp, #0x10]
	ldp	x21, x22, [sp, #0x20]
	ldp	x23, x24, [sp, #0x30]
	ldp	x25, x26, [sp, #0x40]
	ldp	x27, x28, [sp, #0x50]
	ldp	d8, d9, [sp, #0x60]
	ldp	d10, d11, [sp, #0x70]
	ldp	d12, d13, [sp, #0x80]
	ldp	d14, d15, [sp, #0x90]
	ldp	x29, x30, [sp], #FRAME
	AUTH
	ret
	.size	regs_survive,.-regs_survive

/* The GNU property note (GNU_PROPERTY_AARCH64_FEATURE_1_AND: bit 0 BTI,
 * bit 1 PAC); without it, linking this file would drop the program's BTI
 * property. */
#if HAS_BTI || HAS_PAC
	.section .note.gnu.property, "a"
	.p2align 3
	.word	4			/* name size */
	.word	16			/* descriptor size */
	.word	5			/* NT_GNU_PROPERTY_TYPE_0 */
	.asciz	"GNU"
	.word	0xc0000000		/* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
	.word	4
	.word	HAS_BTI | (HAS_PAC << 1)
	.word	0
#endif

	.section .note.GNU-stack,"",%progbits
