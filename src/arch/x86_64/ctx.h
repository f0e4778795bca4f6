/*
 * What the x86_64 switch (switch_sysv_elf.S) tells the rest of corun about
 * its frame. Included from C and from the .S file.
 */
#ifndef CORUN_ARCH_X86_64_CTX_H
#define CORUN_ARCH_X86_64_CTX_H

/* Six callee-saved registers and the resume address. */
#define CORUN__CTX_FRAME 0x38

/* For debuggers (src/core/layout.c), as the .S file's table lays the frame
 * out: where the resume address is, and each callee-saved register, by the
 * name gdb gives it. The caller's stack pointer is the frame's end. */
#define CORUN__CTX_PC 0x30
#define CORUN__CTX_REGS(X) \
	X(r15, 0x00) X(r14, 0x08) X(r13, 0x10) X(r12, 0x18) X(rbx, 0x20) X(rbp, 0x28)

#endif
