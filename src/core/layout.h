/*
 * The layout tables: what a debugger needs to read the runtime from memory
 * alone (tools/gdb/corun-gdb.py), reachable from the registry (runtime.h),
 * so that it needs neither corun's debug information nor its symbols: the
 * builds people ship are stripped, and their core files are what gets
 * debugged. Each entry is a name and a number: a field's offset (with the
 * field's size) or a constant. The numbers come
 * from offsetof, sizeof and the definitions themselves, so they follow the
 * structs they describe; a debugger looks entries up by name, so an entry
 * may be added without breaking it (removing or renaming one is a change of
 * interface: the script's lookups name each one it needs).
 *
 * Names: "STRUCT.FIELD" for an offset (rt, co, slot, case, waiter, timer),
 * "GROUP.NAME" for a constant (state, flag, reason, op, id, slot, handle),
 * "frame.*" and "reg.NAME" for a suspended context's saved frame (layout.c).
 * Why a coroutine waits is its record's wait_reason, one of the reason.*
 * constants (co.h's list), with its object in wait_obj: a debugger needs
 * nothing else to tell one wait from another.
 *
 * Nothing reads these tables but a debugger: they cost no instruction
 * anywhere, and about 2 KiB of read-only data.
 */
#ifndef CORUN_LAYOUT_H
#define CORUN_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

struct corun__layout_entry {
	char name[20];     /* NUL-terminated; "" ends a table */
	uint32_t size;     /* an offset's field size in bytes; 0 otherwise */
	uint64_t value;    /* an offset or a constant */
};

#define CORUN__LAYOUT_OFF(name, type, member) \
	{ name, sizeof(((type *)0)->member), offsetof(type, member) }
#define CORUN__LAYOUT_VAL(name, v) { name, 0, (v) }
#define CORUN__LAYOUT_END { "", 0, 0 }

/* The tables (layout.c): the runtime, the records and waits; the saved
 * frame. */
extern const struct corun__layout_entry corun__layout_core[];
extern const struct corun__layout_entry corun__layout_frame[];

/* All of them, NULL-terminated: what the registry points to. */
extern const struct corun__layout_entry *const corun__layouts[];

#endif
