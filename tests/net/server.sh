# Sourced by the network tests: start one of the example servers and stop
# it at exit. $NET_WRAPPER (empty, or e.g. valgrind and its options) goes
# before the program, as CORUN_TEST_WRAPPER does for the test programs.

# start_server PROGRAM ARGS...: run it, wait for its "listening on PORT"
# line, and set server_pid and port.
start_server() {
	server_out=$(mktemp)
	trap stop_server EXIT
	${NET_WRAPPER:-} "$@" >"$server_out" 2>&1 &
	server_pid=$!
	tries=0
	while ! grep -q '^listening on [0-9]' "$server_out"; do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "server exited before it was ready:" >&2
			cat "$server_out" >&2
			exit 1
		fi
		tries=$((tries + 1))
		if [ "$tries" -gt 600 ]; then # a minute: valgrind starts slowly
			echo "server not ready after a minute" >&2
			exit 1
		fi
		sleep 0.1
	done
	port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$server_out")
}

# check_server: fail unless the server still runs and has reported nothing
# (a sanitizer report; valgrind's lines start with ==PID==).
check_server() {
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "the server died:" >&2
		cat "$server_out" >&2
		exit 1
	fi
	if grep -q -e '^==[0-9]*==' -e 'Sanitizer' "$server_out"; then
		echo "the server's checker reported errors:" >&2
		cat "$server_out" >&2
		exit 1
	fi
}

stop_server() {
	if [ -n "${server_pid:-}" ]; then
		kill "$server_pid" 2>/dev/null || :
		wait "$server_pid" 2>/dev/null || :
	fi
	rm -f "$server_out"
}
