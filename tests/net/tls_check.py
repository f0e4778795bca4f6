#!/usr/bin/env python3
"""https_hello against Python's ssl module (standard library only).

A keep-alive client: three requests on one TLS connection, then one that
asks to close, after which the server's close_notify ends the stream.
Clients that stall: one that connects and sends nothing, one that sends
half a real ClientHello and stops; the server must drop each at its
handshake deadline (-T), not before, and not much later, and meanwhile
go on serving others.

Usage: tls_check.py PORT DEADLINE_SECONDS
"""
import socket
import ssl
import sys
import threading
import time

PORT = int(sys.argv[1])
T = float(sys.argv[2])
SLACK = 10  # seconds late a drop may be: valgrind, a loaded machine

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
CLOSE = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def read_answer(s):
    """One answer: the head, then its Content-Length of body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit(f"connection ended in a head: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = int([h.split(b":")[1] for h in head.split(b"\r\n")
                  if h.lower().startswith(b"content-length:")][0])
    while len(body) < length:
        body += s.recv(4096)
    if not head.startswith(b"HTTP/1.1 200 OK") or body != b"hello":
        raise SystemExit(f"bad answer: {head!r} {body!r}")
    return head


def keep_alive():
    raw = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    with context().wrap_socket(raw, server_hostname="localhost") as s:
        for _ in range(3):
            s.sendall(REQUEST)
            read_answer(s)
        s.sendall(CLOSE)
        if b"Connection: close" not in read_answer(s):
            raise SystemExit("the last answer did not say Connection: close")
        if s.recv(1) != b"":
            raise SystemExit("the connection stayed open after Connection: close")
    print("keep-alive: 4 requests on one connection, then closed")


def client_hello():
    """The bytes a Python client sends first."""
    out = ssl.MemoryBIO()
    obj = context().wrap_bio(ssl.MemoryBIO(), out, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def stall(name, send, results):
    """Connect, send these bytes, stall: how long until the server drops us."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=T + SLACK)
    t0 = time.monotonic()
    s.sendall(send)
    try:
        got = s.recv(4096)
    except ConnectionResetError:
        got = b""
    except socket.timeout:
        got = None
    took = time.monotonic() - t0
    s.close()
    results[name] = (got, took)


def main():
    keep_alive()
    hello = client_hello()
    results = {}
    threads = [threading.Thread(target=stall, args=(name, send, results))
               for name, send in (("silent", b""), ("half ClientHello", hello[:len(hello) // 2]))]
    for t in threads:
        t.start()
    time.sleep(T / 4)
    keep_alive()  # served while the stallers hold their connections
    for t in threads:
        t.join()
    for name, (got, took) in results.items():
        print(f"{name}: dropped after {took:.2f} s (deadline {T} s)")
        if got is None:
            raise SystemExit(f"{name}: not dropped within {T + SLACK} s")
        if got:
            raise SystemExit(f"{name}: got {got!r}, expected the connection to close")
        if took < T * 0.9:
            raise SystemExit(f"{name}: dropped before the deadline")


main()
