#!/bin/bash
# Cross-thread benchmarks: corun's shared channels and blocking pool beside
# their baselines, in one run, for issue 19's targets:
#
#   corun_threads_base   (baselines.c) plain C and POSIX threads: a spin
#                        ping-pong (the floor), eventfd, futex and condition
#                        variable ping-pongs, eventfd pings 1 ms apart, a
#                        mutex+condvar 1,024-slot queue, libuv's
#                        uv_queue_work round trip, getaddrinfo called directly
#   bench/go/threads.go  Go's channels at GOMAXPROCS=2 (built here with
#                        go build, skipped without go)
#   corun_threads_bench  (corun_threads.c) the same shapes over corun
#                        (skipped when the build has none)
#
# Every program pins its two threads to the first two CPUs it may use and
# prints "name value unit" lines, each the median of its own repetitions;
# the programs run interleaved, TRIALS times, so that a noisy moment hits
# all of them, and the table shows the median over the trials. Then, once:
# the CPU two idle corun runtimes use in 10 s (getrusage), and the system
# calls per message of the ping-pong whose threads have other work (strace
# -c -f over a million messages, less a run of a thousand, so that start
# and exit are not counted).
#
# Usage: bench/threads/run.sh BUILD_DIR [--quick]
#   BUILD_DIR has bench/corun_threads_base (and bench/corun_threads_bench).
#   --quick: a smoke test, one trial of small sizes, nothing judged.
#   A full run writes the table to bench/results/threads.txt too.
# Environment: TRIALS (3).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
build=${1:?usage: run.sh BUILD_DIR [--quick]}
build=$(cd "$build" && pwd)
quick=0
[ "${2:-}" = "--quick" ] && quick=1

trials=${TRIALS:-3}
q=
big=1000000 small=1000
if [ $quick = 1 ]; then
	trials=1 q=--quick big=20000 small=1000
fi

tmp=$(mktemp -d /tmp/corun-threads-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

base=$build/bench/corun_threads_base
corun=$build/bench/corun_threads_bench
[ -x "$base" ] || { echo "$base is missing: cmake --build $build --target corun_threads_base"; exit 1; }
have_corun=1
if [ ! -x "$corun" ]; then
	have_corun=0
	echo "no $corun: corun's side skipped"
fi
gobin=
if command -v go >/dev/null 2>&1; then
	mkdir -p "$tmp/go"
	cp "$bench/go/threads.go" "$tmp/go/"
	if (cd "$tmp/go" && export HOME=$tmp/go GOCACHE=$tmp/go/cache GOFLAGS=-mod=mod &&
		go build -o threads threads.go) >"$tmp/go/log" 2>&1; then
		gobin=$tmp/go/threads
	else
		echo "go build failed: Go skipped"
		cat "$tmp/go/log"
	fi
else
	echo "go is not installed: Go skipped"
fi

# What runs in each trial, comparable ones next to each other.
runs=("$base spin" "$base eventfd" "$base futex" "$base condvar")
[ -n "$gobin" ] && runs+=("env GOMAXPROCS=2 $gobin pingpong" "env GOMAXPROCS=2 $gobin locked")
[ $have_corun = 1 ] && runs+=("$corun pingpong" "$corun busy")
runs+=("$base spaced")
[ -n "$gobin" ] && runs+=("env GOMAXPROCS=2 $gobin spaced")
[ $have_corun = 1 ] && runs+=("$corun spaced")
runs+=("$base queue")
[ -n "$gobin" ] && runs+=("env GOMAXPROCS=2 $gobin queue" "env GOMAXPROCS=2 $gobin queue_locked")
[ $have_corun = 1 ] && runs+=("$corun queue")
runs+=("$base uv")
[ $have_corun = 1 ] && runs+=("$corun blocking")
runs+=("$base getaddrinfo")
[ $have_corun = 1 ] && runs+=("$corun getaddrinfo")

head="corun cross-thread benchmarks, $(date -u +%F): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, Linux $(uname -r); $trials trial(s); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$head"

: >"$tmp/trials"
for t in $(seq "$trials"); do
	for r in "${runs[@]}"; do
		# shellcheck disable=SC2086 # the command line is split on purpose
		out=$($r $q 2>"$tmp/err")
		rc=$?
		sed 's/^/  (stderr) /' "$tmp/err" | grep -v 'note: ' | head -5
		[ $rc = 0 ] || echo "  ($r: exit status $rc)"
		echo "$out" | awk -v t="$t" 'NF == 3 && $2 + 0 == $2 { print t, $0 }' | tee -a "$tmp/trials" | sed 's/^/  trial /'
	done
done

median() { # numbers on stdin -> their median
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
: >"$tmp/medians"
awk '{ print $2 }' "$tmp/trials" | awk '!seen[$0]++' >"$tmp/names"
while read -r name; do
	v=$(awk -v n="$name" '$2 == n { print $3 }' "$tmp/trials" | median)
	unit=$(awk -v n="$name" '$2 == n { print $4; exit }' "$tmp/trials")
	echo "$name $v $unit" >>"$tmp/medians"
done <"$tmp/names"

# ---- once: idle CPU, system calls per message
idle=
if [ $have_corun = 1 ]; then
	idle=$("$corun" idle $q 2>/dev/null | awk '$1 == "corun_idle_cpu" { print $2 }')
	[ -n "$idle" ] && echo "corun_idle_cpu $idle ms" >>"$tmp/medians"
fi
calls=
if [ $have_corun = 1 ] && command -v strace >/dev/null 2>&1; then
	# The messages a busy run of --n N sends: N/2 timed round trips after
	# a tenth as many (and one) untimed, as corun_threads.c counts them.
	sent() { local r=$(($1 / 2)); echo $((2 * (r + r / 10 + 1))); }
	total() { # messages -> system calls of one busy run under strace
		strace -c -f -q -o "$tmp/strace.$1" "$corun" busy --n "$1" --reps 1 >/dev/null 2>&1 || return 1
		awk '$NF == "total" { print $4 }' "$tmp/strace.$1"
	}
	if cb=$(total $big) && cs=$(total $small) && [ -n "$cb" ] && [ -n "$cs" ]; then
		calls=$(awk -v b="$cb" -v s="$cs" -v nb="$(sent $big)" -v ns="$(sent $small)" 'BEGIN { printf "%.4f", (b - s) / (nb - ns) }')
		echo "corun_busy_syscalls $calls calls/msg" >>"$tmp/medians"
		echo "  strace: $cb calls over $big messages, $cs over $small"
	else
		echo "  strace run failed"
	fi
elif [ $have_corun = 1 ]; then
	echo "strace is not installed: system calls not counted"
fi

# ---- the table
value() { # name -> its value, times in ns (rates as they are)
	awk -v n="$1" '$1 == n { f = 1; if ($3 ~ /^us/) f = 1e3; else if ($3 ~ /^ms/) f = 1e6; print $2 * f }' "$tmp/medians"
}
# check LABEL A B OP LIMIT: A / B against the target (OP: <= or >=; ~ for none)
check() {
	local label=$1 x y
	x=$(value "$2") y=$(value "$3")
	if [ -z "$x" ] || [ -z "$y" ]; then
		printf "  %-44s %s\n" "$label" "- (not measured)"
		return
	fi
	awk -v l="$label" -v x="$x" -v y="$y" -v op="$4" -v lim="$5" 'BEGIN {
		r = y ? x / y : 0
		if (op == "~") { verdict = "(no target)"; t = "" }
		else { verdict = (op == "<=" ? r <= lim : r >= lim) ? "met" : "MISSED"; t = "target " op " " lim }
		printf "  %-44s %8.3fx   %-14s   %s\n", l, r, t, verdict
	}'
}
{
	echo "$head"
	echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "medians over the trials (each itself a median of the program's repetitions):"
	awk '{ printf "  %-26s %12s %s\n", $1, $2, $3 }' "$tmp/medians"
	echo
	echo "issue 19's targets (ratios of the medians above):"
	check "ping-pong, idle threads: corun / Go" corun_pingpong go_chan_pingpong "<=" 1
	check "ping-pong, idle threads: corun / spin floor" corun_pingpong spin_pingpong "<=" 2.5
	check "ping-pong, threads busy: corun / Go" corun_pingpong_busy go_chan_pingpong "~" 0
	check "1 ms apart: corun / eventfd wake" corun_spaced_wake eventfd_spaced_wake "<=" 1.1
	check "queue, 10 M through 1,024: corun / Go" corun_queue go_chan_queue ">=" 1
	check "queue: corun / mutex+condvar queue" corun_queue condvar_queue ">=" 2.5
	check "queue: corun / Go, each on its own thread" corun_queue go_chan_queue_locked "~" 0
	check "no-op blocking call: corun / uv_queue_work" corun_blocking uv_queue_work "<=" 0.5
	check "getaddrinfo: corun / direct call" corun_getaddrinfo getaddrinfo "~" 0
	if [ -n "$idle" ]; then
		awk -v v="$idle" -v q=$quick 'BEGIN { printf "  %-44s %8.2f ms   target < 10 ms%s   %s\n",
			"idle CPU, two runtimes, " (q ? "1" : "10") " s", v, q ? " (in 10 s)" : "", v < 10 ? "met" : "MISSED" }'
	fi
	if [ -n "$calls" ]; then
		awk -v v="$calls" 'BEGIN { printf "  %-44s %8.4f     target <= 0.01   %s\n",
			"system calls per message, threads busy", v, v <= 0.01 ? "met" : "MISSED" }'
		echo "    by kind, over $big messages (strace -c -f, start and exit included):"
		awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { printf "      %-16s %s\n", $NF, $4 }' "$tmp/strace.$big" | sort -k2 -rn | head -8
	fi
	[ $quick = 1 ] && echo "  (--quick: small sizes, one trial; the ratios mean little)"
} >"$tmp/table"
echo
cat "$tmp/table"
[ $quick = 0 ] && cp "$tmp/table" "$bench/results/threads.txt" && echo "wrote $bench/results/threads.txt"
exit 0
