#!/bin/bash
# What TLS costs corun's HTTP server: examples/https_hello (OpenSSL through
# tls_conn.c's BIO over corun_read/corun_write) beside examples/http_hello,
# the same server and answers in plain text, on each I/O backend; and
# bench/net/epoll_https.c, OpenSSL in a hand-written epoll loop (socket
# BIO, SSL_ERROR_WANT_READ/WRITE retried on readiness), when it is built.
#
#   keep-alive  wrk -t1 -c50 over one connection each (HTTP/1.1): the
#               server's CPU time per request, and requests/s
#   handshake   ab -n N -c 10 (HTTP/1.0, no keep-alive): a new TCP
#               connection per request, and for https_hello a new TLS 1.3
#               handshake (X25519, ECDSA P-256, ab's default cipher): the
#               server's CPU time per connection, and connections/s
#
# The server runs one thread pinned to CPU 0, its load pinned to CPU 1
# (taskset), so that the server's CPU time is its own. CPU time is the
# server's run time summed over its threads (/proc/PID/task/TID/schedstat,
# in nanoseconds; as bench/net/run.sh reads it: utime + stime count clock
# ticks of 10 ms, too coarse for the plain server's short runs), read
# before the load starts and after it ends, over the requests the load
# tool reports. Each figure is
# the median of TRIALS runs, each with a fresh server, the servers'
# runs interleaved.
#
# Usage: bench/net/tls.sh BUILD_DIR [--quick]
#   BUILD_DIR has examples/http_hello and examples/https_hello (built
#   where OpenSSL is found), and bench/corun_epoll_https unless the
#   benchmarks were left out. Needs wrk, ab and openssl (for the
#   certificate). Writes bench/results/tls.txt (--quick: short runs, the
#   table on stdout only).
# Environment: TRIALS (3), SECS (5, wrk's duration), CONNS (3000, ab's -n
# for https_hello; ten times as many for http_hello, which is that much
# faster).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
build=${1:?usage: tls.sh BUILD_DIR [--quick]}
build=$(cd "$build" && pwd)
quick=0
[ "${2:-}" = "--quick" ] && quick=1
trials=${TRIALS:-3}
secs=${SECS:-5}
conns=${CONNS:-3000}
[ $quick = 1 ] && trials=1 secs=1 conns=300

for tool in wrk ab openssl taskset; do
	command -v $tool >/dev/null 2>&1 || { echo "tls.sh: $tool not installed" >&2; exit 1; }
done
for p in http_hello https_hello; do
	[ -x "$build/examples/$p" ] || { echo "tls.sh: no $build/examples/$p" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/corun-tls-XXXXXX)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
	-days 2 -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

# start PROGRAM BACKEND: a fresh server on CPU 0; sets server_pid, port.
start() {
	local cmd=("$build/examples/$1" -t 1 0)
	[ "$1" = https_hello ] && cmd=("$build/examples/$1" -c "$tmp/cert.pem" -k "$tmp/key.pem" -t 1 0)
	[ "$1" = epoll_https ] && cmd=("$build/bench/corun_epoll_https" "$tmp/cert.pem" "$tmp/key.pem" 0)
	CORUN_IO=$2 taskset -c 0 "${cmd[@]}" >"$tmp/server.out" 2>&1 &
	server_pid=$!
	for _ in $(seq 100); do
		grep -q '^listening on' "$tmp/server.out" && break
		sleep 0.05
	done
	port=$(sed -n 's/^listening on //p' "$tmp/server.out")
	[ -n "$port" ] || { echo "tls.sh: $1 did not start" >&2; cat "$tmp/server.out" >&2; exit 1; }
}

stop() {
	kill "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=
}

# The server's CPU time so far, in nanoseconds, over its threads.
cpu() {
	cat /proc/"$server_pid"/task/*/schedstat | awk '{ t += $1 } END { printf "%d\n", t }'
}

scheme() { [ "$1" = http_hello ] && echo http || echo https; }

# keepalive PROGRAM BACKEND: prints "cpu_us_per_request requests_per_s".
keepalive() {
	start "$1" "$2"
	local url c0 c1 out n
	url=$(scheme "$1")://127.0.0.1:$port/
	taskset -c 1 wrk -t1 -c50 -d1s "$url" >/dev/null # warm-up
	c0=$(cpu)
	out=$(taskset -c 1 wrk -t1 -c50 -d${secs}s "$url")
	c1=$(cpu)
	stop
	n=$(echo "$out" | sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p')
	echo "$out" | grep -q -e 'Socket errors' -e 'Non-2xx' && { echo "wrk: errors: $out" >&2; exit 1; }
	rps=$(echo "$out" | sed -n 's/^Requests\/sec: *//p')
	awk -v c=$((c1 - c0)) -v n="$n" -v r="$rps" 'BEGIN { printf "%.2f %.0f\n", c / n / 1e3, r }'
}

# handshake PROGRAM BACKEND: prints "cpu_us_per_connection connections_per_s".
handshake() {
	start "$1" "$2"
	local url c0 c1 out n tls=() conns=$((conns * 10))
	url=$(scheme "$1")://127.0.0.1:$port/
	[ "$1" != http_hello ] && tls=(-f TLS1.3) conns=$((conns / 10))
	taskset -c 1 ab -q -n 200 -c 10 "${tls[@]}" "$url" >/dev/null 2>&1 # warm-up
	c0=$(cpu)
	out=$(taskset -c 1 ab -q -n "$conns" -c 10 "${tls[@]}" "$url" 2>&1)
	c1=$(cpu)
	stop
	n=$(echo "$out" | sed -n 's/^Complete requests: *//p')
	failed=$(echo "$out" | sed -n 's/^Failed requests: *//p')
	if [ "$n" != "$conns" ] || [ "$failed" != 0 ]; then
		echo "ab: not all complete: $out" >&2
		exit 1
	fi
	rps=$(echo "$out" | sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p')
	awk -v c=$((c1 - c0)) -v n="$n" -v r="$rps" 'BEGIN { printf "%.2f %.0f\n", c / n / 1e3, r }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# PROGRAM:BACKEND; the baseline has no backend to choose.
configs="http_hello:epoll https_hello:epoll http_hello:io_uring https_hello:io_uring"
[ -x "$build/bench/corun_epoll_https" ] && configs="$configs epoll_https:-"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A ka_cpu ka_rps hs_cpu hs_rps
for t in $(seq "$trials"); do
	for pb in $configs; do
		p=${pb%:*} b=${pb#*:}
		read -r c r < <(keepalive "$p" "$b")
		ka_cpu[$p,$b]+="$c "
		ka_rps[$p,$b]+="$r "
		read -r c r < <(handshake "$p" "$b")
		hs_cpu[$p,$b]+="$c "
		hs_rps[$p,$b]+="$r "
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# What ab's handshakes agreed on.
start https_hello epoll
proto=$(ab -q -n 1 -f TLS1.3 "https://127.0.0.1:$port/" 2>&1 | sed -n 's/^SSL\/TLS Protocol: *//p')
stop

med() { echo "$1" | tr ' ' '\n' | grep . | median; }
report() {
	echo "corun TLS benchmark (bench/net/tls.sh): $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs, Linux $(uname -r)"
	echo "$(openssl version); wrk $(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p'); $(ab -V | head -1 | sed 's/This is //')"
	echo "load (1/5/15 min) before: $load_before; after: $load_after"
	echo "server: one thread on CPU 0 (taskset); load on CPU 1; medians of $trials trial(s), a fresh server each"
	echo "commands: wrk -t1 -c50 -d${secs}s URL (keep-alive; after 1 s of warm-up);"
	echo "          ab -n $((conns * 10)) -c 10 URL, ab -n $conns -c 10 -f TLS1.3 URL (a connection per"
	echo "          request; after 200 of warm-up)"
	echo "TLS: $proto, ECDSA P-256 certificate, X25519 key exchange (OpenSSL's default)"
	echo "cpu: the server's run time (/proc/PID/task/*/schedstat) per request or connection"
	echo
	printf '%-12s %-9s %14s %12s %14s %12s\n' server backend "keepalive cpu" "req/s" "new-conn cpu" "conn/s"
	for pb in $configs; do
		p=${pb%:*} b=${pb#*:}
		printf '%-12s %-9s %11s us %12s %11s us %12s\n' "$p" "$b" \
			"$(med "${ka_cpu[$p,$b]}")" "$(med "${ka_rps[$p,$b]}")" \
			"$(med "${hs_cpu[$p,$b]}")" "$(med "${hs_rps[$p,$b]}")"
	done
	echo
	echo "TLS's share, per backend: https_hello minus http_hello"
	for b in epoll io_uring; do
		awk -v b="$b" -v ka1="$(med "${ka_cpu[http_hello,$b]}")" -v ka2="$(med "${ka_cpu[https_hello,$b]}")" \
			-v hs1="$(med "${hs_cpu[http_hello,$b]}")" -v hs2="$(med "${hs_cpu[https_hello,$b]}")" \
			'BEGIN { printf "  %-9s per keep-alive request: %+.2f us (%.2fx);  per new connection (the handshake): %+.1f us (%.2fx)\n", b, ka2 - ka1, ka2 / ka1, hs2 - hs1, hs2 / hs1 }'
	done
	if [[ $configs == *epoll_https* ]]; then
		echo "https_hello against the hand-written OpenSSL epoll loop (epoll_https), CPU time ratio"
		for b in epoll io_uring; do
			awk -v b="$b" -v ka1="$(med "${ka_cpu[epoll_https,-]}")" -v ka2="$(med "${ka_cpu[https_hello,$b]}")" \
				-v hs1="$(med "${hs_cpu[epoll_https,-]}")" -v hs2="$(med "${hs_cpu[https_hello,$b]}")" \
				'BEGIN { printf "  %-9s per keep-alive request: %.2fx;  per new connection: %.2fx\n", b, ka2 / ka1, hs2 / hs1 }'
		done
	fi
}
if [ $quick = 1 ]; then
	report
else
	report | tee "$bench/results/tls.txt"
fi
