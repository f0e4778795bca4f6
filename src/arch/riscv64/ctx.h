/*
 * What the RISC-V 64 switch (switch_lp64d_elf.S) tells the rest of corun
 * about its frame. Included from C and from the .S file.
 */
#ifndef CORUN_ARCH_RISCV64_CTX_H
#define CORUN_ARCH_RISCV64_CTX_H

/* The frame keeps fs0-fs11 whole, which only the LP64D ABI makes
 * callee-saved (LP64 and LP64F have no or narrower ones): anything else
 * needs another frame, or the ucontext fallback. */
#if !defined(__riscv_float_abi_double)
#error "corun's riscv64 switch is for the LP64D ABI: build with -DCORUN_SWITCH=ucontext"
#endif

/* The resume address, twelve callee-saved general registers and twelve
 * callee-saved floating-point ones, and 8 bytes of padding to keep the
 * stack 16-byte aligned. */
#define CORUN__CTX_FRAME 0xd0

/* For debuggers (src/core/layout.c), as the .S file's table lays the frame
 * out: where the resume address is, and each callee-saved register, by the
 * name gdb gives it (gdb calls s0 fp). The caller's stack pointer is the
 * frame's end. */
#define CORUN__CTX_PC 0x00
#define CORUN__CTX_REGS(X) \
	X(fp, 0x08) X(s1, 0x10) X(s2, 0x18) X(s3, 0x20) X(s4, 0x28) X(s5, 0x30) X(s6, 0x38) \
	X(s7, 0x40) X(s8, 0x48) X(s9, 0x50) X(s10, 0x58) X(s11, 0x60) X(fs0, 0x68) \
	X(fs1, 0x70) X(fs2, 0x78) X(fs3, 0x80) X(fs4, 0x88) X(fs5, 0x90) X(fs6, 0x98) \
	X(fs7, 0xa0) X(fs8, 0xa8) X(fs9, 0xb0) X(fs10, 0xb8) X(fs11, 0xc0)

#endif
