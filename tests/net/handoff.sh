#!/bin/sh
# The servers' hand-off mode (-g): the main thread accepts and hands each
# connection to a worker group of two. echo_client against echo_server (a
# thousand connections at once, then messages too big to write before
# reading: fewer under a checker), then curl and, when installed, ab
# (with and without keep-alive) against http_hello.
# Usage: handoff.sh ECHO_SERVER ECHO_CLIENT HTTP_HELLO
set -eu
. "$(dirname "$0")/server.sh"

if [ -n "${NET_WRAPPER:-}" ]; then
	conns=100 n=1000 c=20
else
	conns=1000 n=10000 c=100
fi
start_server "$1" -t 2 -g 0
${NET_WRAPPER:-} "$2" -c "$conns" -n 5 -s 256 127.0.0.1 "$port"
${NET_WRAPPER:-} "$2" -c 8 -n 3 -s 200000 127.0.0.1 "$port"
check_server
stop_server

start_server "$3" -t 2 -g 0
for i in 1 2 3; do
	body=$(curl -sS --max-time 30 "http://127.0.0.1:$port/")
	if [ "$body" != "hello" ]; then
		echo "curl got \"$body\", not \"hello\"" >&2
		exit 1
	fi
done
if command -v ab >/dev/null 2>&1; then
	for k in "" -k; do
		out=$(ab -q -n "$n" -c "$c" $k -s 30 "http://127.0.0.1:$port/" 2>&1)
		echo "$out" | grep -E '^(Complete|Failed|Non-2xx)' || :
		complete=$(echo "$out" | sed -n 's/^Complete requests: *\([0-9]*\).*/\1/p')
		failed=$(echo "$out" | sed -n 's/^Failed requests: *\([0-9]*\).*/\1/p')
		if [ "$complete" != "$n" ] || [ "$failed" != 0 ] || echo "$out" | grep -q Non-2xx; then
			echo "ab $k: not all $n requests answered well:" >&2
			echo "$out" >&2
			exit 1
		fi
	done
fi
check_server
echo ok
