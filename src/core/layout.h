/*
 * The layout tables: what a debugger needs to read the runtime from memory
 * alone (tools/gdb/corun-gdb.py), reachable from the registry (runtime.h),
 * so that it needs neither corun's debug information nor its symbols: the
 * builds people ship are stripped, and their core files are what gets
 * debugged. Each entry is a name and a number: a field's offset (with the
 * field's size), a constant, or the address of a function. The numbers come
 * from offsetof, sizeof and the definitions themselves, so they follow the
 * structs they describe; a debugger looks entries up by name, so an entry
 * may be added without breaking it (removing or renaming one is a change of
 * interface: the script's lookups name each one it needs).
 *
 * Names: "STRUCT.FIELD" for an offset (rt, co, slot, waiter, qwait, timer,
 * joining), "GROUP.NAME" for a constant (state, flag, qw, fd, slot, handle),
 * "wd.KIND" for a withdraw function (which kind of wait a waiter is),
 * "frame.*" and "reg.NAME" for a suspended context's saved frame (layout.c).
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
	union {
		uint64_t value;    /* an offset or a constant */
		void (*fn)(void);  /* a function's address */
	};
};

#define CORUN__LAYOUT_OFF(name, type, member) \
	{ name, sizeof(((type *)0)->member), { .value = offsetof(type, member) } }
#define CORUN__LAYOUT_VAL(name, v) { name, 0, { .value = (v) } }
#define CORUN__LAYOUT_FN(name, f) { name, 0, { .fn = (void (*)(void))(f) } }
#define CORUN__LAYOUT_END { "", 0, { 0 } }

/* The tables, each defined next to what it describes: the runtime, the
 * records and waits, the saved frame (layout.c), and the kinds of wait
 * whose withdraw functions and structs are private to their files. */
extern const struct corun__layout_entry corun__layout_core[];
extern const struct corun__layout_entry corun__layout_frame[];
extern const struct corun__layout_entry corun__layout_join[]; /* coroutine.c */
extern const struct corun__layout_entry corun__layout_time[]; /* time.c */
extern const struct corun__layout_entry corun__layout_fd[];   /* fd.c */

/* All of them, NULL-terminated: what the registry points to. */
extern const struct corun__layout_entry *const corun__layouts[];

#endif
