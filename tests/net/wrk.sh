#!/bin/sh
# wrk against http_hello: 100 connections for 2 seconds must get answers
# and no socket errors or non-2xx responses. Skipped (77) without wrk.
# Usage: wrk.sh HTTP_HELLO
set -eu
if ! command -v wrk >/dev/null 2>&1; then
	echo "wrk not installed: skipped"
	exit 77
fi
. "$(dirname "$0")/server.sh"

start_server "$1" -t 2 0
out=$(wrk -t 2 -c 100 -d 2s "http://127.0.0.1:$port/")
echo "$out"
check_server
requests=$(echo "$out" | sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p')
if [ -z "$requests" ] || [ "$requests" -eq 0 ]; then
	echo "no responses" >&2
	exit 1
fi
if echo "$out" | grep -q -e 'Socket errors' -e 'Non-2xx'; then
	echo "wrk saw errors" >&2
	exit 1
fi
