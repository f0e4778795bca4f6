/*
 * What the AArch64 assembly files of corun share: the branch-protection
 * landing pad and the GNU property note that says which protections the
 * object's code is fit for. Included from the .S files only.
 */
#ifndef CORUN_ARCH_AARCH64_ASM_H
#define CORUN_ARCH_AARCH64_ASM_H

/* -mbranch-protection=bti (or =standard) defines __ARM_FEATURE_BTI_DEFAULT.
 * A program whose every object carries the BTI property runs with its code
 * mapped as guarded pages, where an indirect branch (br, blr) must land on
 * a `bti` of the matching kind or fault with SIGILL. Every function here is
 * reached by bl or blr from C, so its entry gets `bti c`. Elsewhere the
 * `bti` is not emitted: it is a hint (a nop on older processors), but there
 * is nothing to gain from it. */
#if defined(__ARM_FEATURE_BTI_DEFAULT) && __ARM_FEATURE_BTI_DEFAULT
#define CORUN__BTI 1
#define BTI_C bti c
#else
#define CORUN__BTI 0
#define BTI_C
#endif

/* -mbranch-protection=pac-ret (or =standard) defines
 * __ARM_FEATURE_PAC_DEFAULT: the compiler signs return addresses that
 * functions keep in memory. What that means for the switch is in
 * switch_aapcs64_elf.S. */
#if defined(__ARM_FEATURE_PAC_DEFAULT) && __ARM_FEATURE_PAC_DEFAULT
#define CORUN__PAC 1
#else
#define CORUN__PAC 0
#endif

/* The GNU property note (NT_GNU_PROPERTY_TYPE_0, property
 * GNU_PROPERTY_AARCH64_FEATURE_1_AND): the linker ANDs these bits over all
 * the objects it links, so one object without them would take the BTI
 * property from the whole program (and the PAC bit, which is informative),
 * silently. The compiler writes the note for C files; an assembly file has
 * to write its own. Bit 0: BTI, bit 1: PAC. None is written when neither is
 * claimed, which is what an object without a note says anyway. */
#define CORUN__FEATURE_1_AND  0xc0000000
#define CORUN__FEATURE_BITS   (CORUN__BTI | (CORUN__PAC << 1))

#if CORUN__FEATURE_BITS
#define CORUN__GNU_PROPERTY_NOTE                                              \
	.pushsection .note.gnu.property, "a";                                 \
	.p2align 3;                                                           \
	.word 4;                        /* name size: "GNU" and its NUL */    \
	.word 16;                       /* descriptor size: one property */   \
	.word 5;                        /* NT_GNU_PROPERTY_TYPE_0 */          \
	.asciz "GNU";                                                         \
	.word CORUN__FEATURE_1_AND;     /* pr_type */                         \
	.word 4;                        /* pr_datasz */                       \
	.word CORUN__FEATURE_BITS;      /* pr_data */                         \
	.word 0;                        /* padding to 8 bytes */              \
	.popsection
#else
#define CORUN__GNU_PROPERTY_NOTE
#endif

#endif
