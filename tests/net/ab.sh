#!/bin/sh
# ApacheBench against http_hello (two threads), and against the C baseline
# bench/net/epoll_http when given: ab speaks HTTP/1.0, closing each
# connection, and with -k asks for keep-alive, which an HTTP/1.0 client
# takes only when the answer says "Connection: keep-alive" (else it waits
# for the close, and times out). Every request must complete, none fail,
# and with -k every one be answered on a kept connection. Under a checker
# (NET_WRAPPER set), fewer requests. Skipped (77) without ab.
# Usage: ab.sh HTTP_HELLO [EPOLL_HTTP]
set -eu
if ! command -v ab >/dev/null 2>&1; then
	echo "ab (ApacheBench, apt-get install apache2-utils) not installed: skipped"
	exit 77
fi
. "$(dirname "$0")/server.sh"

if [ -n "${NET_WRAPPER:-}" ]; then
	n=2000 c=50 n_close=300 timeout=30
else
	n=20000 c=200 n_close=2000 timeout=5
fi

# field NAME: the number on ab's line "NAME: number", or nothing.
field() {
	echo "$out" | sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p"
}

# run_ab REQUESTS CONCURRENCY [-k]: ab with a timeout on each response.
run_ab() {
	echo "ab -n $1 -c $2${3:+ $3} -s $timeout"
	rc=0
	out=$(ab -q -n "$1" -c "$2" ${3:+"$3"} -s "$timeout" "http://127.0.0.1:$port/" 2>&1) || rc=$?
	echo "$out" | grep -E '^(Complete|Failed|Keep-Alive|Non-2xx)' || :
	if [ "$rc" -ne 0 ]; then
		echo "ab failed ($rc):" >&2
		echo "$out" >&2
		exit 1
	fi
	if [ "$(field 'Complete requests')" != "$1" ] || [ "$(field 'Failed requests')" != 0 ]; then
		echo "not all $1 requests completed, or some failed" >&2
		exit 1
	fi
	if echo "$out" | grep -q 'Non-2xx'; then
		echo "answers other than 2xx" >&2
		exit 1
	fi
	if [ -n "${3:-}" ] && [ "$(field 'Keep-Alive requests')" != "$1" ]; then
		echo "not all $1 requests kept their connection" >&2
		exit 1
	fi
}

check() {
	start_server "$@"
	run_ab "$n_close" "$c"
	run_ab "$n" "$c" -k
	check_server
	stop_server
}

check "$1" -t 2 0
if [ $# -ge 2 ]; then
	check "$2" 0
fi
echo ok
