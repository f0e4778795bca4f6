#!/bin/sh
# Instructions per operation, from valgrind's callgrind: each operation is
# run N and 2N times by corun_instr, and the difference of the two totals
# is divided by N (so start-up costs cancel). Repeatable, unlike timings.
# For native counts, configure BUILD_DIR with -DCORUN_VALGRIND=OFF: with
# valgrind support on, a spawn under any valgrind tool (callgrind too) also
# makes a memcheck request, about 20 instructions that natively are one
# untaken branch.
# Usage: bench/callgrind.sh BUILD_DIR [N]
set -eu
build=${1:?usage: callgrind.sh BUILD_DIR [N]}
n=${2:-100000}
prog=$build/bench/corun_instr
command -v valgrind >/dev/null || { echo "valgrind is not installed"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

total() { # op count -> total instructions
	valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$prog" "$1" "$2" >/dev/null 2>&1 || return 1
	callgrind_annotate "$tmp/out" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}

printf "%-12s %-46s %s\n" "op" "what is one operation" "instructions"
while read -r op per what; do
	a=$(total "$op" "$n") || { printf "%-12s %-46s %s\n" "$op" "$what" "unavailable"; continue; }
	b=$(total "$op" $((2 * n)))
	printf "%-12s %-46s %.1f\n" "$op" "$what" "$(echo "($b - $a) / ($n * $per)" | bc -l)"
done <<'OPS'
raw 2 corun raw switch, one direction
park 2 corun_park between two coroutines
spawn 1 corun_go detached + run + end + reclaim
spawn-join 1 corun_go + corun_join + run + end + reclaim
main-run 1 from main: corun_go detached + corun_run
main-join 1 from main: corun_go + corun_join
chan 1 send + receive, both ready (buffered, cap 1)
chan-handoff 1 one message, unbuffered, between two coroutines
boost-jump 2 boost jump_fcontext, one direction
boost-spawn 1 boost make_fcontext + jump in + jump out
sock-rw 1 corun_write + corun_read of 1 byte, ready socket
pipe-rw 1 corun_write + corun_read of 1 byte, ready pipe
sock-pingpong 1 round trip of 1 byte, 2 coroutines, socket pair
OPS
