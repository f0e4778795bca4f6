#!/bin/sh
# tools/gdb/corun-gdb.py on gdb_target (gdb_target.c): stopped inside a
# coroutine, `info coroutines` must list every coroutine with its id, name,
# state and what it waits on (one waits for each reason src/core/co.h
# lists, each shown with its object), and `coroutine ID|NAME bt` must show each
# suspended one's own frames; then the same on core files of the stopped
# program: the kernel's (killed there by SIGABRT) and gdb's gcore.
#
# All of it on four builds of the program, as people build and ship them:
#   debug        gdb_target: -g, with corun as this build type built it
#   release      gdb_target_release: -O2, no debug information of its own
#   strip-debug  release, strip --strip-debug: no debug information at all
#   strip-all    release, strip --strip-all: no symbols either
# The script needs none of it (it reads corun's layout tables from the
# process); what is left to check without names is that the backtraces of
# strip-all have the very frames (return addresses) of release's. Whatever
# the switch (asm or ucontext: their frames differ); in a cross build, under
# qemu-user, live only (why is printed).
#
# Usage: check.sh SCRIPT WORKDIR asm|ucontext PROGRAM RELEASE-PROGRAM
# Environment: STRIP, the strip for the target (default strip); SANITIZE,
# the build's CORUN_SANITIZE; EMULATOR, a cross build's qemu-user command
# (the program then runs under its gdbstub, debugged with gdb-multiarch);
# PAC_RET=1 where the build signs return addresses (AArch64).
set -eu
script=$1 dir=$2 kind=$3 prog=$4 rel=$5
STRIP=${STRIP:-strip} SANITIZE=${SANITIZE:-} EMULATOR=${EMULATOR:-}
gdb=gdb sysroot=
if [ -n "$EMULATOR" ]; then
	gdb=gdb-multiarch
	# qemu's -L: where the target's libraries are, for gdb too.
	sysroot=$(echo "$EMULATOR" | sed -n 's/.*-L \([^ ]*\).*/\1/p')
fi
if ! command -v $gdb >/dev/null 2>&1; then
	echo "$gdb is not installed: skipped"
	exit 77
fi
if [ -n "$EMULATOR" ] && [ "${PAC_RET:-0}" = 1 ]; then
	# gdb strips the signature off a signed return address with the mask
	# the kernel gives it (ptrace, or a core file's note); Debian 12's qemu
	# (7.2) gives it none over its gdbstub, so gdb's own bt stops at the
	# first frame that signed its return address, corun or not.
	echo "return addresses signed (pac-ret) under qemu-user: gdb gets no" \
		"pointer-authentication mask from qemu's gdbstub and cannot unwind" \
		"past a signed return address (its own bt neither): skipped"
	exit 77
fi
rm -rf "$dir"
mkdir -p "$dir"
fail=0
bad() {
	echo "FAIL ($where): $*"
	fail=1
}

# The frame a fresh context starts in, outermost in every backtrace.
case $kind in
asm) start='corun(__|\.)ctx_start' ;; # clang's DWARF for the .S: corun.ctx_start
*) start='start' ;;                    # switch_ucontext.c
esac
waiters="sleeper receiver joiner reader grouped sender selector locker writer either forever"
names="main parker $waiters stopper fresh"

# The commands every session runs, each output after a marker line. On
# strip-all, nothing finds gdb_ids or handles: those lookups are left out.
# @@pcs lines: each backtrace's return addresses, as offsets from the
# program's entry point (or the library they are in), to compare builds.
cmds() { # VARIANT
	cat <<'EOC'
python
import re as _re
def _corun_pcs(cmd):
    out = gdb.execute(cmd, to_string=True)
    files = gdb.execute("info files", to_string=True)
    entry = int(_re.search(r"Entry point: (0x[0-9a-f]+)", files).group(1), 16)
    res = []
    for m in _re.finditer(r"^#\d+ +(0x[0-9a-f]+) in ", out, _re.M):
        pc = int(m.group(1), 16)
        lib = gdb.solib_name(pc)
        res.append("%+#x" % (pc - entry) if lib is None else lib.rsplit("/", 1)[-1])
    print("@@pcs %s: %s" % (cmd, " ".join(res)))
end
echo @@info\n
info coroutines
EOC
	if [ "$1" != strip-all ]; then
		cat <<'EOC'
echo @@bt-by-id\n
python gdb.execute("coroutine %d bt" % int(gdb.parse_and_eval("((long long *)&gdb_ids)[1]")))
echo @@bt-handle-line\n
python gdb.execute("coroutine %d" % int(gdb.parse_and_eval("((long long *)&handles)[2]")))
EOC
	fi
	for n in $names; do
		printf 'echo @@bt-%s\\n\ncoroutine %s bt\n' "$n" "$n"
		printf 'python _corun_pcs("coroutine %s bt")\n' "$n"
	done
	cat <<'EOC'
echo @@bt-full\n
coroutine receiver bt full
echo @@bt-1\n
coroutine joiner bt 1
echo @@real-bt\n
bt
python _corun_pcs("bt")
echo @@end\n
EOC
}

section() { # NAME < output: the lines after @@NAME up to the next marker
	awk -v m="@@$1" '$0 == m { on = 1; next } /^@@/ { on = 0 } on'
}

check() { # VARIANT OUTPUT-FILE
	variant=$1 out=$2
	# (glibc's __start_context, where a ucontext starts, ends gdb's
	# backtrace on RISC-V with a "previous frame identical" complaint.)
	complaints=$(grep -E 'Python Exception|Error occurred in Python|corrupt|Cannot access memory|previous frame inner|^corun-gdb:' "$out" |
		grep -vxF 'Backtrace stopped: previous frame identical to this frame (corrupt stack?)' || true)
	if [ -n "$complaints" ]; then
		bad "gdb complained:"
		echo "$complaints" | head -5
	fi
	# The program's own account of itself (gdb_target.c prints it).
	objs=$(grep -E '^gdb_target: chan ' "$out" | head -n 1)
	obj() { echo "$objs" | awk -v k="$1" '{ for (i = 2; i < NF; i++) if ($i == k) print $(i + 1) }'; }
	chan=$(obj chan) wg=$(obj wg) rfd=$(obj fd) chan2=$(obj chan2) chan3=$(obj chan3)
	chan4=$(obj chan4) mutex=$(obj mutex) wfd=$(obj wfd) efd=$(obj efd)
	[ -n "$efd" ] || bad "the program did not print its objects"
	info=$(section info <"$out")
	line() { echo "$info" | awk -v n="$1" '$3 == n || $2 == n'; }
	expect() { # NAME PATTERN WHAT
		l=$(line "$1")
		[ -n "$l" ] || { bad "$1 is not listed"; return; }
		echo "$l" | grep -qE -- "$2" || bad "$1: expected $3 in: $l"
	}
	# Where it stopped: with the program's debug information, its line;
	# with its symbols, the function; with neither, an address.
	case $variant in
	debug) at() { echo "$1 at gdb_target\\.c:[0-9]+"; } ;;
	release | strip-debug) at() { echo "$1"; } ;;
	*) at() { echo "0x[0-9a-f]+ in \\?\\?"; } ;;
	esac
	expect main ' 0 +main ' "id 0"
	# Without corun's debug information, nothing tells its static functions
	# from the program's: where the switch is not a tail call (a sanitizer
	# build), the scheduler's switch_* is the innermost frame (docs/debugging.md, Limits).
	case $variant in
	debug) parked=$(at park_loop) ;;
	*) parked="($(at park_loop)|switch_[a-z]+)" ;;
	esac
	expect parker " runnable +- .*$parked( \\(in corun_park\\))?\$" "runnable in park_loop"
	# One for each reason (src/core/co.h), with its object; a deadline
	# where the call was given one.
	deadline='deadline [0-9]+\.[0-9]+s'
	expect sleeper " waiting +sleep, $deadline" "a sleep until a deadline"
	expect receiver " waiting +channel $chan \\(receive\\) " "a receive on $chan"
	sleeper_id=$(line sleeper | awk '{ print $1 }')
	expect joiner " waiting +join of $sleeper_id sleeper " "the join of sleeper ($sleeper_id)"
	expect reader " waiting +fd $rfd \\(read\\) " "a read on fd $rfd"
	expect grouped " waiting +wait group $wg " "wait group $wg"
	expect sender " waiting +channel $chan2 \\(send\\) " "a send on $chan2"
	expect selector " waiting +select: channel $chan3 \\(receive\\), channel $chan4 \\(send\\), $deadline" \
		"a select of a receive on $chan3 and a send on $chan4, with a deadline"
	expect locker " waiting +mutex $mutex, $deadline" "mutex $mutex, with a deadline"
	expect writer " waiting +fd $wfd \\(write\\) " "a write on fd $wfd"
	expect either " waiting +fd $efd \\(read or write\\) " "a wait on fd $efd either way"
	expect forever " waiting +sleep forever " "a sleep forever"
	expect stopper "^\\* +[0-9]+ +stopper +running .*$(at gdb_stop_here)" "running, in gdb_stop_here"
	expect fresh ' runnable \(not started\) .*not started: (fresh|0x[0-9a-f]+)$' "not started"
	if [ "$variant" = debug ]; then # below the corun call, the program's line
		expect sleeper "$(at sleep_long)" "in sleep_long"
		expect receiver "$(at recv_one)" "in recv_one"
		expect joiner "$(at join_sleeper)" "in join_sleeper"
		expect reader "$(at read_pipe)" "in read_pipe"
		expect grouped "$(at wait_group)" "in wait_group"
		expect sender "$(at send_one)" "in send_one"
		expect selector "$(at select_two)" "in select_two"
		expect locker "$(at lock_held)" "in lock_held"
		expect writer "$(at write_full)" "in write_full"
		expect either "$(at wait_either)" "in wait_either"
		expect forever "$(at sleep_forever)" "in sleep_forever"
	fi
	# The ids are the program's (corun_id).
	i=0
	for n in parker $waiters stopper fresh; do
		id=$(grep -E "^gdb_target: id $i = " "$out" | head -n 1 | awk '{ print $5 }')
		[ "$(line $n | sed 's/^\*//' | awk '{ print $1 }')" = "$id" ] || bad "$n's id is not $id"
		i=$((i + 1))
	done
	echo "$info" | grep -qE '0x[0-9a-f]+-0x[0-9a-f]+ [0-9]+\.[0-9] KiB used' || bad "no stack ranges and use"
	n=$(echo "$info" | grep -cE '^[ *] +[0-9]+ ' || true)
	[ "$n" = 15 ] || bad "expected 15 rows (main and 14 coroutines), got $n"

	bt() { # NAME FUNCTION...: the backtrace has each of them
		b=$(section "bt-$1" <"$out")
		shift
		echo "$b" | grep -q '^#0 ' || bad "no frame #0 in: $b"
		[ "$variant" = strip-all ] && return # no names: see the @@pcs checks
		for f in "$@"; do
			echo "$b" | grep -qE "^#[0-9]+ .*\\b$f\\b" || bad "$f not in the backtrace: $b"
		done
		if echo "$b" | grep -qE 'gdb_stop_here|stop_in_coroutine'; then
			bad "the stopped thread's own frames leaked in: $b"
		fi
	}
	# The user's function and where the context started; corun's public
	# call may be missing, when the compiler made it a tail call.
	bt parker park_loop "$start"
	bt sleeper sleep_long "$start"
	bt receiver recv_one "$start"
	bt joiner join_sleeper "$start"
	bt reader read_pipe "$start"
	bt grouped wait_group "$start"
	bt sender send_one "$start"
	bt selector select_two "$start"
	bt locker lock_held "$start"
	bt writer write_full "$start"
	bt either wait_either "$start"
	bt forever sleep_forever "$start"
	bt main main
	if [ "$variant" != strip-all ]; then
		bt by-id sleep_long
		section bt-handle-line <"$out" | grep -qE '^[0-9]+ receiver waiting channel' ||
			bad "coroutine HANDLE: $(section bt-handle-line <"$out")"
	fi
	section bt-fresh <"$out" | grep -qE '^#0 +(fresh|0x[0-9a-f]+) \(not started' ||
		bad "fresh: $(section bt-fresh <"$out")"
	b=$(section bt-stopper <"$out")
	if [ "$variant" != strip-all ]; then
		echo "$b" | grep -qE '^#0 .*gdb_stop_here' || bad "stopper's bt does not start in gdb_stop_here: $b"
		echo "$b" | grep -qE 'stop_in_coroutine' || bad "stopper's bt lacks stop_in_coroutine: $b"
	fi
	if [ "$variant" = debug ]; then
		section bt-full <"$out" | grep -qE '^ +v = ' || bad "bt full shows no locals of recv_one"
	fi
	n=$(section bt-1 <"$out" | grep -cE '^#' || true)
	[ "$n" = 1 ] || bad "coroutine joiner bt 1 showed $n frames"
	# The real stack is back afterwards.
	b=$(section real-bt <"$out")
	if [ "$variant" != strip-all ]; then
		echo "$b" | grep -qE '^#0 .*gdb_stop_here' || bad "bt after the commands: $b"
		echo "$b" | grep -qE '^#1 .*stop_in_coroutine' || bad "bt after the commands: $b"
	fi
	grep '^@@pcs ' "$out" >"${out%.out}.pcs" || true
}

# What a session's backtraces were without debug information or symbols
# must be what they were with the symbols: the same return addresses, up
# to the first frame in a library (past main, or past the frame a ucontext
# starts in, glibc's __start_context, gdb goes on or stops as the symbols it
# has tell it).
same_pcs() { # SESSION
	where="$1, the builds compared"
	cut() { # each line up to its first library
		awk -F': ' '{ n = split($2, t, " "); s = ""
			for (i = 1; i <= n && t[i] ~ /^[-+]/; i++) s = s " " t[i]
			print $1 ":" s }' "$1"
	}
	for v in strip-debug strip-all; do
		[ -s "$dir/release-$1.pcs" ] && [ -s "$dir/$v-$1.pcs" ] || continue
		cut "$dir/release-$1.pcs" >"$dir/release-$1.pcs.cut"
		cut "$dir/$v-$1.pcs" >"$dir/$v-$1.pcs.cut"
		if ! cmp -s "$dir/release-$1.pcs.cut" "$dir/$v-$1.pcs.cut"; then
			bad "$v's backtraces differ from release's:"
			diff "$dir/release-$1.pcs.cut" "$dir/$v-$1.pcs.cut" | head -10
		fi
	done
}

gdbq() {
	$gdb -nx -batch -ex 'set debuginfod enabled off' -ex 'set pagination off' \
		-ex 'set width 0' ${sysroot:+-ex "set sysroot $sysroot"} -ex "source $script" "$@"
}

# Under qemu-user: the program waits for gdb on a socket (qemu's -g).
# live_qemu PROGRAM OUT GDB-ARGS...
live_qemu() {
	p=$1 o=$2
	shift 2
	sock="$dir/gdbstub.sock"
	rm -f "$sock"
	$EMULATOR -g "$sock" "$p" >"$o.prog" 2>&1 &
	qpid=$!
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	gdbq -ex "file $p" -ex "target remote $sock" "$@" >"$o" 2>&1 || true
	wait $qpid || true
	cat "$o.prog" >>"$o"
}

# The stripped copies.
$STRIP --strip-debug -o "$dir/gdb_target.strip-debug" "$rel"
$STRIP --strip-all -o "$dir/gdb_target.strip-all" "$rel"
if readelf -S "$dir/gdb_target.strip-all" | grep -qE '\.symtab|\.debug_info' ||
	readelf -S "$dir/gdb_target.strip-debug" | grep -q '\.debug_info'; then
	where=strip bad "strip left debug information or symbols in"
fi
variants="debug release strip-debug strip-all"
# How a session stops the program at gdb_stop_here: by its name (gdb puts
# the breakpoint after the function's prologue), or at its address, found
# as one finds it from the unstripped program's symbols (its offset from
# the entry point): on release and its stripped copies, so that all three
# stop at the same instruction.
stop_off=$(readelf -sW "$rel" | awk '$8 == "gdb_stop_here" { print "0x" $2 }')
entry_off=$(readelf -hW "$rel" | awk '/Entry point/ { print $4 }')
stop() { # VARIANT: the commands
	if [ "$1" = debug ]; then
		echo 'break gdb_stop_here'
	else
		[ -n "$EMULATOR" ] || echo starti # gdbstub: already stopped there
		cat <<EOC
python
import re
files = gdb.execute("info files", to_string=True)
entry = int(re.search(r"Entry point: (0x[0-9a-f]+)", files).group(1), 16)
gdb.execute("break *%#x" % (entry - $entry_off + $stop_off))
end
EOC
	fi
	if [ -n "$EMULATOR" ] || [ "$1" != debug ]; then
		echo continue
	else
		echo run
	fi
}
program() {
	case $1 in
	debug) echo "$prog" ;;
	release) echo "$rel" ;;
	*) echo "$dir/gdb_target.$1" ;;
	esac
}

# An AddressSanitizer program: leave its core dumps on (ASan turns them off;
# it marks its shadow memory MADV_DONTDUMP, so they stay small).
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}disable_coredump=0
export ASAN_OPTIONS

for v in $variants; do
	p=$(program "$v")
	cmds "$v" >"$dir/cmds-$v.gdb"
	stop "$v" >"$dir/stop-$v.gdb"
	where="$v, live"
	if [ -n "$EMULATOR" ]; then
		live_qemu "$p" "$dir/$v-live.out" -x "$dir/stop-$v.gdb" -x "$dir/cmds-$v.gdb" -ex kill
	else
		gdbq -x "$dir/stop-$v.gdb" -x "$dir/cmds-$v.gdb" -ex kill "$p" \
			>"$dir/$v-live.out" 2>&1 || true
	fi
	echo "== $where"
	cat "$dir/$v-live.out"
	check "$v" "$dir/$v-live.out"
done
same_pcs live

if [ -n "$EMULATOR" ]; then
	# What does not work under qemu-user, so is not checked there (the
	# script reads a core file as it reads a live process; the native
	# build checks that):
	echo "core files under qemu-user: skipped. qemu writes its own core dump," \
		"without the executable's read-only segments, so gdb cannot tell where" \
		"a position-independent program was loaded (AT_PHDR reads as zeros) and" \
		"relocates nothing; and over qemu's gdbstub gdb knows no memory map of" \
		"the process, so gcore writes the whole address space, none of it readable."
	[ $fail = 0 ] && echo "corun-gdb.py: live checks under $EMULATOR passed"
	exit $fail
fi

# Core files. check_core VARIANT SESSION FILE DUMP-OUTPUT: the same commands
# on it; the program's account of itself is in the output of the run that
# dumped it.
check_core() {
	where="$1, $2"
	if [ ! -s "$3" ]; then
		bad "no core file written"
		tail -5 "$4"
		return
	fi
	gdbq -x "$dir/cmds-$1.gdb" "$(program "$1")" "$3" >"$dir/$1-$2.out" 2>&1 || true
	grep '^gdb_target: ' "$4" >>"$dir/$1-$2.out" || true
	echo "== $where"
	cat "$dir/$1-$2.out"
	check "$1" "$dir/$1-$2.out"
	grep -q 'found by registry' "$dir/$1-$2.out" || bad "the runtime was not found in the registry"
	rm -f "$3"
}

# As a crash leaves one: the kernel's, of the program killed by SIGABRT at
# the breakpoint (it writes a guard page as a hole and every stack in full).
# Only where the kernel writes cores to a file named core in the working
# directory (core_pattern "core"; not a pipe to a collector).
case $(cat /proc/sys/kernel/core_pattern 2>/dev/null) in
core | core.%p)
	for v in $variants; do
		rm -f "$dir"/core*
		(cd "$dir" && ulimit -c unlimited 2>/dev/null &&
			gdbq -x "$dir/stop-$v.gdb" -ex 'signal SIGABRT' "$(program "$v")" \
				>"$dir/$v-kernel-dump.out" 2>&1) || true
		check_core "$v" kernel-core "$(ls "$dir"/core* 2>/dev/null | head -n 1)" \
			"$dir/$v-kernel-dump.out"
	done
	same_pcs kernel-core
	;;
*) echo "kernel core dumps go elsewhere (core_pattern): only gcore is checked" ;;
esac

# gdb's own, gcore: it reads each mapping through the kernel, and a read
# that meets a guard page installed with MADV_GUARD_INSTALL (Linux >= 6.13)
# fails, so gdb 13 leaves the whole slab of stacks out of the core. With
# mprotect guards, each guard is a mapping of its own, which gcore skips.
case ,$SANITIZE, in
*,address,*)
	# gdb 13 dumps the address space ASan reserves (terabytes of
	# PROT_NONE mappings, which, unlike its shadow, are not marked
	# MADV_DONTDUMP): it writes a sparse file of terabytes, and warns that
	# the read of every section, the program's own included, failed.
	echo "gcore of an AddressSanitizer program: skipped (gdb 13 cannot dump" \
		"ASan's reserved address space: see check.sh)"
	;;
*)
	for v in $variants; do
		CORUN_GUARD=mprotect gdbq -x "$dir/stop-$v.gdb" -ex "gcore $dir/gcore" \
			-ex kill "$(program "$v")" >"$dir/$v-gcore-dump.out" 2>&1 || true
		check_core "$v" gcore "$dir/gcore" "$dir/$v-gcore-dump.out"
	done
	same_pcs gcore
	;;
esac
# A program without corun: each command says so in one line.
where="a program without corun"
out=$(gdbq -ex starti -ex 'info coroutines' -ex 'coroutine 1 bt' -ex kill "$(command -v true)" 2>&1)
n=$(echo "$out" | grep -c '^corun-gdb: no corun registry in this program' || true)
if [ "$n" != 2 ] || echo "$out" | grep -q 'Python'; then
	bad "expected one line from each command: $out"
fi
[ $fail = 0 ] && echo "corun-gdb.py: live and core file checks passed"
exit $fail
