# Writes an assembly file that puts a gdb Python script into the
# .debug_gdb_scripts section of the object it is assembled into: gdb runs
# such an embedded script when it loads the library, where its auto-load
# safe-path allows (gdb's manual, "The .debug_gdb_scripts section"). Each
# entry is a kind byte (4: Python text), the script's name on the first
# line, the text, and a NUL.
# Usage: cmake -DSCRIPT=corun-gdb.py -DOUT=gdb_scripts.S -P gdb_scripts.cmake
file(READ "${SCRIPT}" text)
get_filename_component(name "${SCRIPT}" NAME)
set(s "/* Generated from ${name} by cmake/gdb_scripts.cmake: do not edit. */\n")
string(APPEND s "\t.pushsection .debug_gdb_scripts, \"MS\", %progbits, 1\n")
string(APPEND s "\t.byte 4\n\t.ascii \"${name}\\n\"\n")
# One .ascii directive per line, with the assembler's string escapes.
string(REPLACE "\\" "\\\\" text "${text}")
string(REPLACE "\"" "\\\"" text "${text}")
string(REPLACE "\n" "\\n\"\n\t.ascii \"" text "${text}")
string(APPEND s "\t.ascii \"${text}\"\n")
string(APPEND s "\t.byte 0\n\t.popsection\n\t.section .note.GNU-stack,\"\",%progbits\n")
file(WRITE "${OUT}.tmp" "${s}")
file(RENAME "${OUT}.tmp" "${OUT}")
