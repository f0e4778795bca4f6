/*
 * What the AArch64 switch (switch_aapcs64_elf.S) tells the rest of corun
 * about its frame. Included from C and from the .S files.
 */
#ifndef CORUN_ARCH_AARCH64_CTX_H
#define CORUN_ARCH_AARCH64_CTX_H

/* Eight floating-point registers (d8-d15), ten general ones (x19-x28), the
 * frame pointer and the resume address: twenty 8-byte slots, a multiple of
 * 16 as the stack pointer must stay. */
#define CORUN__CTX_FRAME 0xa0

/* For debuggers (src/core/layout.c), as the .S file's table lays the frame
 * out: where the resume address is, and each callee-saved register, by the
 * name gdb gives it. The caller's stack pointer is the frame's end. */
#define CORUN__CTX_PC 0x98
#define CORUN__CTX_REGS(X) \
	X(d8, 0x00) X(d9, 0x08) X(d10, 0x10) X(d11, 0x18) X(d12, 0x20) X(d13, 0x28) \
	X(d14, 0x30) X(d15, 0x38) X(x19, 0x40) X(x20, 0x48) X(x21, 0x50) X(x22, 0x58) \
	X(x23, 0x60) X(x24, 0x68) X(x25, 0x70) X(x26, 0x78) X(x27, 0x80) X(x28, 0x88) \
	X(x29, 0x90)

#endif
