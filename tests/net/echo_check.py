#!/usr/bin/env python3
"""An independent client for the example servers (standard library only).

echo_server: messages of several sizes, up to 1 MiB written while this
side reads slowly through a small receive buffer, so the server's writes
block and must wait; the echo must come back whole and unchanged.

http_hello: keep-alive on one connection, pipelined requests in one send,
a request split across sends (also inside its final blank line), a
request with a body followed by another, and Connection: close; HTTP/1.0
requests, which keep the connection only when they ask for keep-alive,
and then must be told so in the answer (an HTTP/1.0 client waits for the
close otherwise).

Usage: echo_check.py ECHO_SERVER HTTP_HELLO. $NET_WRAPPER, if set, goes
before each server (valgrind and its options, say).
"""
import os
import shlex
import socket
import subprocess
import sys
import threading
import time

TIMEOUT = 30  # seconds for any one socket operation: valgrind is slow


def response(connection=b""):
    """The answer, with the Connection header line it carries, if any."""
    return (b"HTTP/1.1 200 OK\r\n" + connection + b"Content-Length: 5\r\n"
            b"Content-Type: text/plain\r\n\r\nhello")


RESPONSE = response()  # HTTP/1.1 keeps the connection without saying so
RESPONSE_KEEP_ALIVE = response(b"Connection: keep-alive\r\n")
RESPONSE_CLOSE = response(b"Connection: close\r\n")


class Server:
    """One of the example servers, on a port of its choosing."""

    def __init__(self, program):
        wrapper = shlex.split(os.environ.get("NET_WRAPPER", ""))
        self.proc = subprocess.Popen(wrapper + [program, "0"], stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on "):
            raise SystemExit(f"{program}: no ready line, got {line!r}")
        self.port = int(line.split()[2])

    def connect(self, rcvbuf=None):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(TIMEOUT)
        s.connect(("127.0.0.1", self.port))
        return s

    def stop(self):
        alive = self.proc.poll() is None
        self.proc.kill()
        self.proc.wait()
        if not alive:
            raise SystemExit("the server died during the checks")


def recv_exactly(s, n):
    parts, got = [], 0
    while got < n:
        b = s.recv(min(n - got, 1 << 16))
        if not b:
            raise SystemExit(f"connection closed after {got} of {n} bytes")
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def check_echo(server):
    s = server.connect()
    for size in (1, 100, 4096, 65536, 300000):
        data = os.urandom(size)
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        back = recv_exactly(s, size)
        sender.join()
        assert back == data, f"echo of {size} bytes differs"
    s.close()

    # 1 MiB through a small receive buffer, read only after a pause: the
    # server's writes fill the buffers and wait for this side.
    s = server.connect(rcvbuf=4096)
    data = os.urandom(1 << 20)
    sender = threading.Thread(target=s.sendall, args=(data,))
    sender.start()
    time.sleep(0.3)
    back = recv_exactly(s, len(data))
    sender.join()
    assert back == data, "echo of 1 MiB differs"
    s.shutdown(socket.SHUT_WR)
    assert s.recv(1) == b"", "the server did not close after end of file"
    s.close()

    # The last message and the end of the stream at once, to a server that
    # already waits in its read: both arrive before it wakes. It must echo
    # the message, then see the end and close.
    for _ in range(20):
        s = server.connect()
        time.sleep(0.01)
        s.sendall(b"last words")
        s.shutdown(socket.SHUT_WR)
        assert recv_exactly(s, 10) == b"last words", "last words not echoed"
        assert s.recv(1) == b"", "no close after data and end of file together"
        s.close()


def read_responses(s, count, expected=RESPONSE):
    got = recv_exactly(s, count * len(expected))
    assert got == expected * count, f"unexpected answer: {got[:200]!r}"


def assert_closed(s, what):
    assert s.recv(1) == b"", f"{what} did not close"
    s.close()


def check_http(server):
    get = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"

    s = server.connect()  # keep-alive: one request after another
    for _ in range(3):
        s.sendall(get)
        read_responses(s, 1)

    s.sendall(get * 5)  # pipelined, in one send
    read_responses(s, 5)

    for cut in (10, len(get) - 1, len(get) - 3):  # split, also in "\r\n\r\n"
        s.sendall(get[:cut])
        time.sleep(0.05)
        s.sendall(get[cut:])
        read_responses(s, 1)

    # A body is skipped, not taken for the next request.
    s.sendall(b"POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: 9\r\n\r\n"
              b"GET / abc" + get)
    read_responses(s, 2)

    s.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
    read_responses(s, 1, RESPONSE_CLOSE)
    assert_closed(s, "Connection: close")

    s = server.connect()  # requests after the one that closes go unanswered
    s.sendall(get + b"GET / HTTP/1.1\r\nconnection: Close\r\n\r\n" + get)
    read_responses(s, 1)
    read_responses(s, 1, RESPONSE_CLOSE)
    assert_closed(s, "connection: Close")

    # HTTP/1.0 closes by default: the answer says so.
    get10 = b"GET / HTTP/1.0\r\n\r\n"
    s = server.connect()
    s.sendall(get10)
    read_responses(s, 1, RESPONSE_CLOSE)
    assert_closed(s, "HTTP/1.0 without keep-alive")

    # HTTP/1.0 with keep-alive (as ApacheBench -k asks, in any case): each
    # answer announces keep-alive, one after another and pipelined, until
    # a request without it, or one that asks for both, closes.
    keep10 = b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
    s = server.connect()
    for _ in range(3):
        s.sendall(keep10)
        read_responses(s, 1, RESPONSE_KEEP_ALIVE)
    s.sendall(keep10 + b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n")
    read_responses(s, 2, RESPONSE_KEEP_ALIVE)
    s.sendall(get10 + keep10)
    read_responses(s, 1, RESPONSE_CLOSE)
    assert_closed(s, "HTTP/1.0 without keep-alive after keep-alive")

    s = server.connect()
    s.sendall(keep10 + b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")
    read_responses(s, 1, RESPONSE_KEEP_ALIVE)
    read_responses(s, 1, RESPONSE_CLOSE)
    assert_closed(s, "HTTP/1.0 with keep-alive and close")


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: echo_check.py ECHO_SERVER HTTP_HELLO")
    for program, check in ((sys.argv[1], check_echo), (sys.argv[2], check_http)):
        server = Server(program)
        try:
            check(server)
        finally:
            server.stop()
        print(f"{os.path.basename(program)}: ok")


if __name__ == "__main__":
    main()
