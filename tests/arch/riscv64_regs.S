/*
 * Test helper: int regs_survive(void (*fn)(void), uint64_t seed)
 * Loads s0-s11 with seed+0 .. seed+11 and fs0-fs11 with the bit patterns
 * ~(seed+0) .. ~(seed+11) (moved in whole by fmv.d.x, so any pattern is
 * kept exactly, NaNs included), calls fn, and returns a bit mask of the
 * registers that no longer hold their value (bits 0-11 s0-s11, bits 12-23
 * fs0-fs11), compared as bits. The caller's own values of these registers,
 * and ra, are saved and restored around all that. LP64D (RV64 with D).
 */
	.text
	.globl	regs_survive
	.type	regs_survive,@function
	.p2align 2
regs_survive:
	addi	sp, sp, -0xd0		/* 26 slots: a multiple of 16 bytes */
	sd	ra, 0x00(sp)
	sd	s0, 0x08(sp)
	sd	s1, 0x10(sp)
	sd	s2, 0x18(sp)
	sd	s3, 0x20(sp)
	sd	s4, 0x28(sp)
	sd	s5, 0x30(sp)
	sd	s6, 0x38(sp)
	sd	s7, 0x40(sp)
	sd	s8, 0x48(sp)
	sd	s9, 0x50(sp)
	sd	s10, 0x58(sp)
	sd	s11, 0x60(sp)
	fsd	fs0, 0x68(sp)
	fsd	fs1, 0x70(sp)
	fsd	fs2, 0x78(sp)
	fsd	fs3, 0x80(sp)
	fsd	fs4, 0x88(sp)
	fsd	fs5, 0x90(sp)
	fsd	fs6, 0x98(sp)
	fsd	fs7, 0xa0(sp)
	fsd	fs8, 0xa8(sp)
	fsd	fs9, 0xb0(sp)
	fsd	fs10, 0xb8(sp)
	fsd	fs11, 0xc0(sp)
	sd	a1, 0xc8(sp)		/* keep seed */

	/* s_i = seed + i */
	addi	s0, a1, 0
	addi	s1, a1, 1
	addi	s2, a1, 2
	addi	s3, a1, 3
	addi	s4, a1, 4
	addi	s5, a1, 5
	addi	s6, a1, 6
	addi	s7, a1, 7
	addi	s8, a1, 8
	addi	s9, a1, 9
	addi	s10, a1, 10
	addi	s11, a1, 11
	/* fs_i = ~(seed + i), as bits */
	not	t0, s0
	fmv.d.x	fs0, t0
	not	t0, s1
	fmv.d.x	fs1, t0
	not	t0, s2
	fmv.d.x	fs2, t0
	not	t0, s3
	fmv.d.x	fs3, t0
	not	t0, s4
	fmv.d.x	fs4, t0
	not	t0, s5
	fmv.d.x	fs5, t0
	not	t0, s6
	fmv.d.x	fs6, t0
	not	t0, s7
	fmv.d.x	fs7, t0
	not	t0, s8
	fmv.d.x	fs8, t0
	not	t0, s9
	fmv.d.x	fs9, t0
	not	t0, s10
	fmv.d.x	fs10, t0
	not	t0, s11
	fmv.d.x	fs11, t0

	jalr	a0

	ld	t0, 0xc8(sp)		/* seed */
	li	a0, 0			/* the mask */
	li	t3, 1			/* this register's bit */

/* CHECK_S reg, i: set this bit unless reg == seed + i; next bit.
 * CHECK_FS reg, i: the same for fs reg against ~(seed + i). */
	.macro	CHECK_S reg, i
	addi	t1, t0, \i
	beq	\reg, t1, 1f
	or	a0, a0, t3
1:	slli	t3, t3, 1
	.endm
	.macro	CHECK_FS reg, i
	addi	t1, t0, \i
	not	t1, t1
	fmv.x.d	t2, \reg
	beq	t2, t1, 1f
	or	a0, a0, t3
1:	slli	t3, t3, 1
	.endm

	CHECK_S	s0, 0
	CHECK_S	s1, 1
	CHECK_S	s2, 2
	CHECK_S	s3, 3
	CHECK_S	s4, 4
	CHECK_S	s5, 5
	CHECK_S	s6, 6
	CHECK_S	s7, 7
	CHECK_S	s8, 8
	CHECK_S	s9, 9
	CHECK_S	s10, 10
	CHECK_S	s11, 11
	CHECK_FS fs0, 0
	CHECK_FS fs1, 1
	CHECK_FS fs2, 2
	CHECK_FS fs3, 3
	CHECK_FS fs4, 4
	CHECK_FS fs5, 5
	CHECK_FS fs6, 6
	CHECK_FS fs7, 7
	CHECK_FS fs8, 8
	CHECK_FS fs9, 9
	CHECK_FS fs10, 10
	CHECK_FS fs11, 11

	ld	ra, 0x00(sp)
	ld	s0, 0x08(sp)
	ld	s1, 0x10(sp)
	ld	s2, 0x18(sp)
	ld	s3, 0x20(sp)
	ld	s4, 0x28(sp)
	ld	s5, 0x30(sp)
	ld	s6, 0x38(sp)
	ld	s7, 0x40(sp)
	ld	s8, 0x48(sp)
	ld	s9, 0x50(sp)
	ld	s10, 0x58(sp)
	ld	s11, 0x60(sp)
	fld	fs0, 0x68(sp)
	fld	fs1, 0x70(sp)
	fld	fs2, 0x78(sp)
	fld	fs3, 0x80(sp)
	fld	fs4, 0x88(sp)
	fld	fs5, 0x90(sp)
	fld	fs6, 0x98(sp)
	fld	fs7, 0xa0(sp)
	fld	fs8, 0xa8(sp)
	fld	fs9, 0xb0(sp)
	fld	fs10, 0xb8(sp)
	fld	fs11, 0xc0(sp)
	addi	sp, sp, 0xd0
	ret
	.size	regs_survive,.-regs_survive

	.section .note.GNU-stack,"",@progbits
