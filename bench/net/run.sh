#!/bin/bash
# Network benchmarks: corun's example servers, on each of its I/O backends
# (CORUN_IO=epoll and CORUN_IO=io_uring), beside hand-written C loops on
# epoll and on liburing (bench/net/) and Go (bench/go/, GOMAXPROCS=1), in
# one run.
#
#   echo    64-byte ping-pong at 1, 100, 1,000 and 10,000 connections, load
#           from bench/net/echo_load.c: round trips/s, p50/p99 latency, the
#           server's CPU time per round trip, its system calls per round trip
#   http    wrk --latency -t1 at -c 1, 100 and 1000: requests/s, p50/p99,
#           the server's CPU time and system calls per request (not at
#           10,000: wrk opens its connections inside the measured window,
#           and at 10,000 their accepting and closing is most of the cost)
#   memory  10,000 idle connections (one echo each, then waiting in read):
#           resident and page-table bytes per connection
#
# Each server runs pinned to CPU 0 and its load to CPU 1 (taskset), so that
# the server's CPU time is its own; the load client is saturated from 100
# connections up, so what separates servers is their cost per round trip,
# not round trips per second. CPU time is the server's run time summed over
# its threads (/proc/PID/task/TID/schedstat), read at the edges of the
# measured window. System calls are counted in separate runs, by perf stat
# on the syscalls:sys_enter_* tracepoints, with strace -c as the fallback
# (strace slows every call down, which changes how they batch). Each run has
# a fresh server; echo and http figures are medians of TRIALS runs, the
# runs of the servers interleaved so that a noisy moment hits all of them.
#
# The servers, named in the tables:
#   corun-epoll, corun-uring  examples/echo_server and http_hello, with
#                             CORUN_IO=epoll and CORUN_IO=io_uring (the
#                             table notes it where the second did not get
#                             a ring: corun built without io_uring, or the
#                             kernel refused it)
#   c-epoll, c-uring          bench/net/{epoll,uring}_{echo,http}.c
#   go, go-raw, go-nethttp    bench/go/
# Ratios in the tables are to c-epoll (/ep), c-uring (/ur) and Go (/go).
#
# Usage: bench/net/run.sh BUILD_DIR [--quick]
#   BUILD_DIR has bench/corun_{epoll_echo,epoll_http,echo_load} and
#   examples/{echo_server,http_hello}; bench/corun_uring_{echo,http} when
#   liburing was found at build time, else c-uring is skipped; Go's servers
#   are built from bench/go/ when go is installed, and skipped otherwise;
#   so is the http part without wrk. Writes bench/results/net.{csv,txt}
#   and, with gnuplot, net.svg (--quick: a smoke test with short runs,
#   written to a temporary folder).
# Environment: TRIALS (3), SECS (3, per measured window), WARM (1).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
build=${1:?usage: run.sh BUILD_DIR [--quick]}
build=$(cd "$build" && pwd)
quick=0
[ "${2:-}" = "--quick" ] && quick=1

trials=${TRIALS:-3}
secs=${SECS:-3}
warm=${WARM:-1}
counts="1 100 1000 10000"
call_counts=$counts
http_counts="1 100 1000"
idle_conns=10000
if [ $quick = 1 ]; then
	trials=1 secs=0.5 warm=0.2 counts="1 100 1000" call_counts=100 http_counts="100" idle_conns=1000
fi

tmp=$(mktemp -d /tmp/corun-net-XXXXXX)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
if [ $quick = 1 ]; then
	results=$tmp/results
	mkdir -p "$results"
else
	results=$bench/results
fi
csv=$results/net.csv
txt=$results/net.txt

# 10,000 connections take 10,000 descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((idle_conns + 100)) ]; then
	echo "the descriptor limit ($(ulimit -n)) is below $((idle_conns + 100)); raise it (ulimit -Hn)"
	exit 1
fi

load=$build/bench/corun_echo_load
for f in "$load" "$build/bench/corun_epoll_echo" "$build/bench/corun_epoll_http"; do
	[ -x "$f" ] || { echo "$f is missing: cmake --build $build"; exit 1; }
done

# Servers: "name|command line" (split on spaces; 0 is the port: pick one).
echo_servers=()
http_servers=()
if [ -x "$build/examples/echo_server" ]; then
	echo_servers+=("corun-epoll|env CORUN_IO=epoll $build/examples/echo_server 0")
	echo_servers+=("corun-uring|env CORUN_IO=io_uring $build/examples/echo_server 0")
else
	echo "no $build/examples/echo_server: corun's echo server skipped"
fi
echo_servers+=("c-epoll|$build/bench/corun_epoll_echo 0")
if [ -x "$build/bench/corun_uring_echo" ]; then
	echo_servers+=("c-uring|$build/bench/corun_uring_echo 0")
else
	echo "no $build/bench/corun_uring_echo (built with liburing-dev): the liburing loops skipped"
fi
if [ -x "$build/examples/http_hello" ]; then
	http_servers+=("corun-epoll|env CORUN_IO=epoll $build/examples/http_hello 0")
	http_servers+=("corun-uring|env CORUN_IO=io_uring $build/examples/http_hello 0")
else
	echo "no $build/examples/http_hello: corun's http server skipped"
fi
http_servers+=("c-epoll|$build/bench/corun_epoll_http 0")
if [ -x "$build/bench/corun_uring_http" ]; then
	http_servers+=("c-uring|$build/bench/corun_uring_http 0")
fi
if command -v go >/dev/null 2>&1; then
	mkdir -p "$tmp/go"
	cp "$bench/go/echo.go" "$bench/go/http.go" "$tmp/go/"
	if (cd "$tmp/go" && export HOME=$tmp/go GOCACHE=$tmp/go/cache GOFLAGS=-mod=mod &&
		go build -o echo echo.go && go build -o http http.go) >"$tmp/go/log" 2>&1; then
		echo_servers+=("go|env GOMAXPROCS=1 $tmp/go/echo 0")
		http_servers+=("go-raw|env GOMAXPROCS=1 $tmp/go/http raw 0")
		http_servers+=("go-nethttp|env GOMAXPROCS=1 $tmp/go/http std 0")
	else
		echo "go build failed: Go skipped"
		cat "$tmp/go/log"
	fi
else
	echo "go is not installed: Go skipped"
fi
have_wrk=1
command -v wrk >/dev/null 2>&1 || { have_wrk=0; echo "wrk is not installed (apt-get install wrk): http skipped"; }

# How system calls are counted: perf if it can open the tracepoints here.
counter=none
if command -v perf >/dev/null 2>&1 &&
	perf stat -e syscalls:sys_enter_read -o /dev/null true >/dev/null 2>&1; then
	counter=perf
elif command -v strace >/dev/null 2>&1; then
	counter=strace
fi

# Start "name|command" pinned to CPU 0; sets server_pid and port.
start() {
	local cmd=${1#*|}
	# shellcheck disable=SC2086 # the command line is split on purpose
	taskset -c 0 $cmd >"$tmp/server.out" 2>&1 &
	server_pid=$!
	port=
	for _ in $(seq 200); do
		port=$(awk '/^listening on/ { print $3; exit }' "$tmp/server.out")
		[ -n "$port" ] && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.05
	done
	echo "server ${1%%|*} did not start:"
	cat "$tmp/server.out"
	stop
	return 1
}
stop() {
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
}
cpu_ns() { # the server's run time so far, summed over its threads
	cat /proc/"$server_pid"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d", s }'
}
# Whether the server has an io_uring instance open: corun's io_uring
# backend falls back to epoll, silently, where it cannot have one.
has_ring() {
	[ -n "$(find /proc/"$server_pid"/fd -lname 'anon_inode:?io_uring?' -print -quit 2>/dev/null)" ]
}
# After a run of a "-uring" server: note it if it ran without a ring.
check_ring() { # name
	case $1 in *-uring) ;; *) return 0 ;; esac
	has_ring && return 0
	grep -qx "$1" "$tmp/noring" 2>/dev/null || echo "$1" >>"$tmp/noring"
	echo "  ($1: no io_uring instance in the server: it ran on epoll)"
}
field() { # key line -> the value of key=value in line
	echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'
}
median() { # numbers on stdin -> their median
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
us() { # a wrk duration (12.5us, 3.2ms, 1.1s) -> microseconds
	echo "$1" | awk '/us$/ { print $1 + 0; next } /ms$/ { print $1 * 1000; next } /s$/ { print $1 * 1e6 }'
}

# perf stat on the server, all syscall tracepoints, counting only between
# "enable" and "disable" on its control FIFO. perf_start; ...; perf_stop
# leaves one "count syscall" line per kind seen in $tmp/calls. perf is
# stopped by ending its timer, a sleep it runs: it then writes its counts
# as on any normal end (a signal may come while it still opens hundreds of
# tracepoints, and be lost).
perf_start() {
	rm -f "$tmp/ctl" "$tmp/ack" "$tmp/perf.csv"
	mkfifo "$tmp/ctl" "$tmp/ack"
	perf stat -D -1 --control "fifo:$tmp/ctl,$tmp/ack" -x, -o "$tmp/perf.csv" \
		-e 'syscalls:sys_enter_*' -p "$server_pid" -- sleep 100000 2>"$tmp/perf.err" &
	perf_pid=$!
}
perf_stop() {
	local timer
	for _ in $(seq 300); do
		timer=$(pgrep -P "$perf_pid")
		[ -n "$timer" ] && break
		sleep 0.1
	done
	[ -n "$timer" ] && kill "$timer"
	wait "$perf_pid" 2>/dev/null
	awk -F, '!/^#/ && $1 + 0 > 0 { sub("syscalls:sys_enter_", "", $3); print $1, $3 }' \
		"$tmp/perf.csv" | sort -rn >"$tmp/calls"
	[ -s "$tmp/calls" ] || { echo "perf counted nothing:"; cat "$tmp/perf.err"; }
}
strace_start() {
	strace -c -f -q -o "$tmp/strace.out" -p "$server_pid" 2>/dev/null &
	perf_pid=$!
	sleep 1 # strace attaches to every thread
}
strace_stop() {
	kill -INT "$perf_pid" 2>/dev/null
	wait "$perf_pid" 2>/dev/null
	# % time, seconds, usecs/call, calls, [errors,] syscall
	awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { print $4, $NF }' \
		"$tmp/strace.out" | sort -rn >"$tmp/calls"
}
calls_per() { # operations -> "total k1=v1 k2=v2... other=v" per operation
	awk -v n="$1" '{ t += $1 }
		$1 / n >= 0.0005 { s = s sprintf(" %s=%.3f", $2, $1 / n); next }
		{ o += $1 }
		END { if (o) s = s sprintf(" other=%.4f", o / n); printf "%.3f%s\n", t / n, s }' "$tmp/calls"
}

: >"$tmp/rows"
row() { echo "$*" | tr ' ' , >>"$tmp/rows"; } # bench server param metric value
: >"$tmp/calls.txt"

# The baselines that ratios are taken to, among SERVERS...: the C loops
# and the first Go server.
bases() { names "$@" | tr ' ' '\n' | awk '/^c-(epoll|uring)$/ || (/^go/ && !g++)'; }
# summarize BENCH RATE COUNTS SERVERS...: from $tmp/BENCH.trials ("trial
# server conns metric value"), the median of each metric over the trials,
# and the median over the trials of the ratio of each server's CPU time to
# each baseline's in the same trial: runs of one trial are minutes apart
# at most, so the ratio is less at the mercy of other load on the machine
# than a ratio of medians.
summarize() {
	local b=$1 rate=$2 counts=$3 s n k v base
	shift 3
	for s in "$@"; do
		s=${s%%|*}
		for n in $counts; do
			for k in $rate p50_us p99_us cpu_ns; do
				v=$(awk -v s="$s" -v n="$n" -v k="$k" '$2 == s && $3 == n && $4 == k { print $5 }' \
					"$tmp/$b.trials" 2>/dev/null | median)
				[ -n "$v" ] && row "$b" "$s" "$n" "$k" "$v"
			done
			for base in $(bases "$@"); do
				[ "$s" = "$base" ] && continue
				v=$(awk -v s="$s" -v b="$base" -v n="$n" '$3 == n && $4 == "cpu_ns" && $5 > 0 {
						if ($2 == s) x[$1] = $5; if ($2 == b) y[$1] = $5 }
					END { for (t in x) if (t in y) printf "%.4f\n", x[t] / y[t] }' \
					"$tmp/$b.trials" 2>/dev/null | median)
				[ -n "$v" ] && row "$b" "$s" "$n" "cpu_vs_$base" "$v"
			done
		done
	done
}
names() { for s in "$@"; do printf "%s " "${s%%|*}"; done; }

echo "corun network benchmarks, $(date -u +%F): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
	"$(nproc) CPUs, Linux $(uname -r); servers on CPU 0, load on CPU 1;" \
	"$trials trial(s) of ${secs} s after ${warm} s of warm-up; load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$tmp/head"

# ---- echo
# echo_run cpu|perf|strace SERVER CONNS: a fresh server and one load run;
# sets out to the load's line (empty when it failed twice).
echo_run() {
	local mode=$1 s=$2 n=$3
	for attempt in 1 2; do
		start "$s" || continue
		case $mode in
		cpu) out=$(taskset -c 1 "$load" -p "$port" -c "$n" -w "$warm" -d "$secs" -s "$server_pid") ;;
		perf)
			perf_start
			out=$(taskset -c 1 "$load" -p "$port" -c "$n" -w "$warm" -d "$secs" -s "$server_pid" \
				--perf "$tmp/ctl,$tmp/ack")
			perf_stop
			;;
		strace)
			strace_start
			out=$(taskset -c 1 "$load" -p "$port" -c "$n" -w 0 -d "$secs")
			strace_stop
			;;
		esac
		# perf now and then counts nothing (its tracepoints opened late?)
		[ "$mode" != cpu ] && [ ! -s "$tmp/calls" ] && out=
		[ -n "$out" ] && check_ring "${s%%|*}"
		stop
		[ -n "$out" ] && return 0
		echo "  (${s%%|*} n=$n: no result from attempt $attempt)"
	done
	return 1
}
for t in $(seq "$trials"); do
	for n in $counts; do
		for s in "${echo_servers[@]}"; do
			echo_run cpu "$s" "$n" || continue
			echo "  echo trial $t ${s%%|*} n=$n: $out"
			for k in rtps p50_us p99_us; do
				echo "$t ${s%%|*} $n $k $(field $k "$out")" >>"$tmp/echo.trials"
			done
			echo "$t ${s%%|*} $n cpu_ns $(field cpu_ns_per_rt "$out")" >>"$tmp/echo.trials"
		done
	done
done
summarize echo rtps "$counts" "${echo_servers[@]}"

# System calls per round trip: one run each, under perf (or strace).
# --quick leaves Go out of these, the slowest part of the smoke test.
skip_calls() { [ $quick = 1 ] && [[ ${1%%|*} == go* ]]; }
if [ $counter != none ]; then
	for n in $call_counts; do
		for s in "${echo_servers[@]}"; do
			skip_calls "$s" && continue
			echo_run $counter "$s" "$n" || continue
			rt=$(field rt "$out")
			[ "${rt:-0}" -gt 0 ] || continue
			per=$(calls_per "$rt")
			echo "  echo syscalls ${s%%|*} n=$n: $rt round trips; per round trip: $per"
			# perf -p counts the threads there when it attaches; Go may
			# move its work to a thread it makes later. An echo on epoll
			# takes at least a read and a write: fewer means threads were
			# missed. (On io_uring, fewer is the point.)
			if [[ ${s%%|*} != *-uring ]] && awk -v p="${per%% *}" 'BEGIN { exit !(p < 2) }'; then
				echo "  (${s%%|*} n=$n: under 2 calls per round trip: threads missed, left out)"
				continue
			fi
			echo "echo ${s%%|*} $n $per" >>"$tmp/calls.txt"
			row echo "${s%%|*}" "$n" syscalls "${per%% *}"
		done
	done
fi

# ---- http
wrk_run() { # conns duration -> wrk's output, or nothing
	taskset -c 1 wrk -t1 -c "$1" -d "$2" --latency "http://127.0.0.1:$port/" 2>&1
}
if [ $have_wrk = 1 ]; then
	wsecs=$(awk -v s="$secs" 'BEGIN { printf "%d", s < 1 ? 1 : s + 0.5 }')
	for t in $(seq "$trials"); do
		for n in $http_counts; do
			for s in "${http_servers[@]}"; do
				start "$s" || continue
				wrk_run "$n" 1 >/dev/null # warm-up
				c0=$(cpu_ns)
				out=$(wrk_run "$n" "$wsecs")
				c1=$(cpu_ns)
				check_ring "${s%%|*}"
				stop
				reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
				rps=$(echo "$out" | awk '/^Requests\/sec/ { print $2 }')
				p50=$(us "$(echo "$out" | awk '$1 == "50%" { print $2 }')")
				p99=$(us "$(echo "$out" | awk '$1 == "99%" { print $2 }')")
				errs=$(echo "$out" | awk '/Socket errors|Non-2xx/ { printf "%s ", $0 }')
				echo "  http trial $t ${s%%|*} c=$n: $rps req/s, p50 ${p50} us, p99 ${p99} us $errs"
				[ "${reqs:-0}" -gt 0 ] || continue
				{
					echo "$t ${s%%|*} $n rps $rps"
					echo "$t ${s%%|*} $n p50_us $p50"
					echo "$t ${s%%|*} $n p99_us $p99"
					echo "$t ${s%%|*} $n cpu_ns $(((c1 - c0) / reqs))"
				} >>"$tmp/http.trials"
			done
		done
	done
	summarize http rps "$http_counts" "${http_servers[@]}"
	# System calls per request: the window is the whole wrk run, so it
	# includes accepting and closing its connections.
	for n in $([ $counter != none ] && echo "$http_counts"); do
		for s in "${http_servers[@]}"; do
			skip_calls "$s" && continue
			for attempt in 1 2; do
				start "$s" || continue
				wrk_run "$n" 1 >/dev/null
				if [ $counter = perf ]; then
					perf_start
					exec 3<>"$tmp/ctl" 4<>"$tmp/ack"
					echo enable >&3 && read -r _ <&4
					out=$(wrk_run "$n" "$wsecs")
					echo disable >&3 && read -r _ <&4
					exec 3>&- 4>&-
					perf_stop
				else
					strace_start
					out=$(wrk_run "$n" "$wsecs")
					strace_stop
				fi
				stop
				reqs=$(echo "$out" | awk '/requests in/ { print $1 }')
				[ "${reqs:-0}" -gt 0 ] && [ -s "$tmp/calls" ] && break
				reqs=0
			done
			[ "${reqs:-0}" -gt 0 ] || continue
			per=$(calls_per "$reqs")
			echo "  http syscalls ${s%%|*} c=$n: $reqs requests; per request: $per"
			echo "http ${s%%|*} $n $per" >>"$tmp/calls.txt"
			row http "${s%%|*}" "$n" syscalls "${per%% *}"
		done
	done
fi

# ---- memory: idle connections, each served once and now waiting in read
rss_kb() { awk -v k="$1:" '$1 == k { print $2 }' /proc/"$server_pid"/status; }
for s in "${echo_servers[@]}"; do
	start "$s" || continue
	sleep 0.2
	r0=$(rss_kb VmRSS) p0=$(rss_kb VmPTE)
	rm -f "$tmp/hold"
	mkfifo "$tmp/hold"
	taskset -c 1 "$load" -p "$port" -c "$idle_conns" --idle <"$tmp/hold" >"$tmp/idle.out" &
	idle_pid=$!
	exec 5>"$tmp/hold"
	for _ in $(seq 600); do
		grep -q idle "$tmp/idle.out" && break
		kill -0 $idle_pid 2>/dev/null || break
		sleep 0.1
	done
	sleep 0.5
	r1=$(rss_kb VmRSS) p1=$(rss_kb VmPTE)
	exec 5>&-
	wait $idle_pid
	stop
	if grep -q idle "$tmp/idle.out"; then
		rss=$(((r1 - r0) * 1024 / idle_conns)) pte=$(((p1 - p0) * 1024 / idle_conns))
		echo "  memory ${s%%|*}: $idle_conns idle connections: VmRSS +$((r1 - r0)) KiB, VmPTE +$((p1 - p0)) KiB"
		row memory "${s%%|*}" "$idle_conns" rss_bytes "$rss"
		row memory "${s%%|*}" "$idle_conns" pte_bytes "$pte"
	fi
done

# ---- results
{
	echo "# $(cat "$tmp/head")"
	echo "bench,server,param,metric,value"
	cat "$tmp/rows"
} >"$csv"

get() { awk -F, -v b="$1" -v s="$2" -v p="$3" -v m="$4" '$1 == b && $2 == s && $3 == p && $4 == m { print $5 }' "$csv"; }
ratio() { # a b -> a/b, or -
	if [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; else echo -; fi
}
abbr() { case $1 in c-epoll) echo ep ;; c-uring) echo ur ;; *) echo go ;; esac; }
table() { # bench unit servers...
	local b=$1 unit=$2 n s m cpu calls base bs
	shift 2
	bs=$(bases "$@")
	printf "  %-11s %6s %10s %10s %10s %8s %9s" server conns "$unit/s" "p50 us" "p99 us" "cpu ns" syscalls
	for base in $bs; do printf " %7s" "cpu/$(abbr "$base")"; done
	for base in $bs; do printf " %8s" "calls/$(abbr "$base")"; done
	echo
	m=rtps
	[ "$b" = http ] && m=rps
	for n in $( [ "$b" = echo ] && echo "$counts" || echo "$http_counts"); do
		for s in "$@"; do
			cpu=$(get "$b" "$s" "$n" cpu_ns) calls=$(get "$b" "$s" "$n" syscalls)
			[ -n "$(get "$b" "$s" "$n" $m)" ] || continue
			printf "  %-11s %6s %10.0f %10.1f %10.1f %8.0f %9s" "$s" "$n" \
				"$(get "$b" "$s" "$n" $m)" "$(get "$b" "$s" "$n" p50_us)" "$(get "$b" "$s" "$n" p99_us)" \
				"${cpu:-0}" "${calls:--}"
			for base in $bs; do printf " %7s" "$(fmt "$(get "$b" "$s" "$n" "cpu_vs_$base")")"; done
			for base in $bs; do printf " %8s" "$(ratio "$calls" "$(get "$b" "$base" "$n" syscalls)")"; done
			echo
		done
	done
}
# Issue 20's targets for corun on io_uring, each with the figure against
# it: system calls per round trip at most 1 at one connection and 0.1 from
# 100 up; CPU time at most 0.9x the epoll loop's from 100 up and never over
# 1.05x; at most 1.1x the liburing loop's.
targets() { # bench
	local b=$1 n v t line
	grep -q "^$b,corun-uring," "$csv" || return 0
	echo
	echo "  issue 20's targets for corun-uring ($b):"
	printf "  %-6s %22s %22s %22s\n" conns "syscalls (target)" "cpu/ep (target)" "cpu/ur (target)"
	for n in $( [ "$b" = echo ] && echo "$counts" || echo "$http_counts"); do
		line=$(printf "  %-6s" "$n")
		v=$(get "$b" corun-uring "$n" syscalls)
		if [ "$n" -ge 100 ]; then t=0.1; else t=1; fi
		line+=$(check "$v" "$t")
		v=$(get "$b" corun-uring "$n" cpu_vs_c-epoll)
		if [ "$n" -ge 100 ]; then t=0.9; else t=1.05; fi
		line+=$(check "$v" "$t")
		line+=$(check "$(get "$b" corun-uring "$n" cpu_vs_c-uring)" 1.1)
		echo "$line"
	done
}
check() { # value limit -> "value (<= limit) ok|MISSED", or "-"
	if [ -z "$1" ]; then printf " %22s" -; return; fi
	local ok
	ok=$(awk -v v="$1" -v l="$2" 'BEGIN { print (v <= l ? "ok" : "MISSED") }')
	printf " %22s" "$(printf "%.3f (<= %s) %s" "$1" "$2" "$ok")"
}
fmt() { if [ -n "$1" ]; then printf "%.2fx" "$1"; else echo -; fi; }
{
	cat "$tmp/head"
	echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "echo: 64-byte ping-pong, one message in flight per connection (medians of $trials)"
	echo "  cpu ns: the server's CPU time per round trip; syscalls: per round trip ($counter, one run);"
	echo "  cpu/ep, cpu/ur, cpu/go: median over the trials of the ratio to the C epoll loop's"
	echo "  (the C liburing loop's, Go's) CPU time in the same trial; calls/ep, calls/ur, calls/go:"
	echo "  ratio of system calls per round trip"
	if [ -s "$tmp/noring" ]; then
		echo "  NOTE: $(tr '\n' ' ' <"$tmp/noring")had no io_uring instance (corun built without its"
		echo "  io_uring backend, or the kernel refused it): those rows are corun on epoll"
	fi
	# shellcheck disable=SC2046
	table echo rt $(names "${echo_servers[@]}")
	targets echo
	if [ $have_wrk = 1 ]; then
		echo
		echo "http: wrk -t1 --latency, GET /, 200 \"hello\", keep-alive (medians of $trials)"
		echo "  cpu ns: the server's CPU time per request (whole wrk run); syscalls: per request"
		echo "  ($counter, one run), over the whole wrk run, its connections' accepting and closing included"
		# shellcheck disable=SC2046
		table http req $(names "${http_servers[@]}")
		targets http
	fi
	echo
	echo "memory: $idle_conns idle connections, each echoed once and waiting in read"
	printf "  %-11s %14s %14s\n" server "RSS B/conn" "PTE B/conn"
	for s in "${echo_servers[@]}"; do
		s=${s%%|*}
		[ -n "$(get memory "$s" "$idle_conns" rss_bytes)" ] || continue
		printf "  %-11s %14s %14s\n" "$s" "$(get memory "$s" "$idle_conns" rss_bytes)" \
			"$(get memory "$s" "$idle_conns" pte_bytes)"
	done
	if [ -s "$tmp/calls.txt" ]; then
		echo
		echo "system calls by kind, per round trip (echo) or request (http):"
		sed 's/^/  /' "$tmp/calls.txt"
	fi
	echo
	echo "machine:"
	lscpu | grep -v '^Flags:' | head -n 14 | sed 's/^/  /'
	echo "  kernel: $(uname -srvm); liburing: $(pkg-config --modversion liburing 2>/dev/null || echo -)"
} >"$txt"
cat "$txt"

# ---- chart: server CPU per round trip against connections
if [ $quick = 0 ] && command -v gnuplot >/dev/null 2>&1; then
	"$here/plot.sh" "$csv" "$results/net.svg"
fi
echo "wrote $csv and $txt"
