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

#endif
