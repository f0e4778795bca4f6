/*
 * What the x86_64 switch (switch_sysv_elf.S) tells the rest of corun about
 * its frame. Included from C and from the .S file.
 */
#ifndef CORUN_ARCH_X86_64_CTX_H
#define CORUN_ARCH_X86_64_CTX_H

/* Six callee-saved registers and the resume address. */
#define CORUN__CTX_FRAME 0x38

#endif
