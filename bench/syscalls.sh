#!/bin/sh
# System calls and page faults per spawn in the steady state of churn: runs
# corun_churn (batches of B coroutines, spawned, run to their end, repeated)
# with N and 2N coroutines in all, and divides the difference of the two
# counts by N, so the first batch (carving stacks: a guard each, a fault
# each) cancels out. strace -c -f counts system calls; perf stat counts the
# page-fault software event (no hardware counters needed).
# Usage: bench/syscalls.sh BUILD_DIR [N]
set -eu
build=${1:?usage: syscalls.sh BUILD_DIR [N]}
n=${2:-1000000}
prog=$build/bench/corun_churn
command -v strace >/dev/null || { echo "strace is not installed (apt-get install strace)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

calls() { # b total mode stack -> system calls
	strace -c -f -o "$tmp/s" "$prog" "$1" "$2" "$3" "$4" >/dev/null
	awk '/total/ { print $(NF-1) }' "$tmp/s"
}
faults() {
	if command -v perf >/dev/null && perf stat -e page-faults -x, -o "$tmp/p" "$prog" "$1" "$2" "$3" "$4" >/dev/null 2>&1; then
		awk -F, '/page-faults/ { print $1 }' "$tmp/p"
	else
		echo ""
	fi
}

printf "%-8s %-9s %-7s %16s %16s\n" "B" "shape" "stack" "syscalls/spawn" "faults/spawn"
for stack in 16384 2097152; do
	for mode in detached joined; do
		for b in 1 100 1000 10000 100000; do
			c1=$(calls "$b" "$n" "$mode" "$stack"); c2=$(calls "$b" $((2 * n)) "$mode" "$stack")
			f1=$(faults "$b" "$n" "$mode" "$stack"); f2=$(faults "$b" $((2 * n)) "$mode" "$stack")
			fs="-"
			[ -n "$f1" ] && [ -n "$f2" ] && fs=$(printf "%.4f" "$(echo "($f2 - $f1) / $n" | bc -l)")
			printf "%-8s %-9s %-7s %16.4f %16s\n" "$b" "$mode" "$((stack / 1024))K" \
				"$(echo "($c2 - $c1) / $n" | bc -l)" "$fs"
		done
	done
done
