#!/bin/sh
# echo_client against echo_server (two threads, port 0): a thousand
# connections at once with small messages, then a few with messages too
# big to write before reading. Under a checker (NET_WRAPPER set), fewer.
# Then, but not under a checker (valgrind keeps its own descriptor limit),
# a server that runs out of descriptors.
# Usage: echo.sh ECHO_SERVER ECHO_CLIENT
set -eu
. "$(dirname "$0")/server.sh"

if [ -n "${NET_WRAPPER:-}" ]; then
	conns=100
else
	conns=1000
fi
start_server "$1" -t 2 0
${NET_WRAPPER:-} "$2" -c "$conns" -n 5 -s 256 127.0.0.1 "$port"
${NET_WRAPPER:-} "$2" -c 8 -n 3 -s 200000 127.0.0.1 "$port"
check_server
stop_server

# A hard limit of 48 descriptors (which the server cannot raise) and 200
# clients at once: its accept loop fails with EMFILE and backs off while
# the first ones are served, then takes the rest from the backlog as they
# close.
if [ -z "${NET_WRAPPER:-}" ]; then
	start_server sh -c 'ulimit -n 48 && exec "$0" 0' "$1"
	"$2" -c 200 -n 5 -s 256 127.0.0.1 "$port"
	check_server
fi
