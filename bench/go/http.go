// HTTP hello in Go for bench/net/run.sh, GOMAXPROCS=1, in two modes:
//
//	raw  a goroutine per connection on net.Conn with the minimal handling of
//	     corun's http_hello and bench/net/epoll_http.c: each "\r\n\r\n" ends
//	     a request head, answered with a fixed 200 "hello"; of the head only
//	     Connection, HTTP/1.0, Content-Length (a body to skip) and
//	     Transfer-Encoding (answer, then close) are read; the answer says
//	     "Connection: close" before a close and "Connection: keep-alive"
//	     when it keeps an HTTP/1.0 connection (examples/http_head.h);
//	std  net/http with a handler that writes "hello" (net/http parses the
//	     request in full and adds a Date header: what a Go programmer gets).
//
// Usage: http raw|std PORT (0 picks one; prints "listening on PORT").
package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
)

func hasToken(v []byte, token string) bool {
	for _, item := range bytes.Split(v, []byte(",")) {
		if bytes.EqualFold(bytes.TrimSpace(item), []byte(token)) {
			return true
		}
	}
	return false
}

// parseHead reads a head that ends with "\r\n\r\n": whether to close after
// answering, whether it is an HTTP/1.0 request, and how long a body follows.
func parseHead(h []byte) (closeAfter, http10 bool, body int) {
	eol := bytes.Index(h, []byte("\r\n"))
	http10 = bytes.HasSuffix(h[:eol], []byte("HTTP/1.0"))
	keep, cl := false, false
	for rest := h[eol+2:]; len(rest) > 0; {
		eol = bytes.Index(rest, []byte("\r\n"))
		line := rest[:eol]
		rest = rest[eol+2:]
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		name, v := line[:colon], bytes.TrimLeft(line[colon+1:], " \t")
		switch {
		case bytes.EqualFold(name, []byte("connection")):
			cl = cl || hasToken(v, "close")
			keep = keep || hasToken(v, "keep-alive")
		case bytes.EqualFold(name, []byte("content-length")):
			body = 0
			for _, d := range v {
				if d < '0' || d > '9' {
					break
				}
				if body > (1<<62)/10 {
					cl = true
					break
				}
				body = body*10 + int(d-'0')
			}
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			cl = true
		}
	}
	return cl || (http10 && !keep), http10, body
}

// The answers of examples/http_head.h: HTTP/1.1 keeps the connection by
// default; an HTTP/1.0 client keeps it only when told so.
func helloReply(connection string) []byte {
	return []byte("HTTP/1.1 200 OK\r\n" + connection +
		"Content-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
}

var (
	replyKeep      = helloReply("")
	replyKeepAlive = helloReply("Connection: keep-alive\r\n")
	replyClose     = helloReply("Connection: close\r\n")
)

func serveRaw(c net.Conn) {
	defer c.Close()
	in := make([]byte, 4096)
	have, skip, closing := 0, 0, false
	var out []byte
	for !closing {
		n, err := c.Read(in[have:])
		if err != nil {
			return
		}
		have += n
		out = out[:0]
		pos := 0
		for !closing {
			drop := skip
			if drop > have-pos {
				drop = have - pos
			}
			pos += drop
			skip -= drop
			if skip > 0 {
				break
			}
			i := bytes.Index(in[pos:have], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			var http10 bool
			closing, http10, skip = parseHead(in[pos : pos+i+4])
			pos += i + 4
			switch {
			case closing:
				out = append(out, replyClose...)
			case http10:
				out = append(out, replyKeepAlive...)
			default:
				out = append(out, replyKeep...)
			}
		}
		copy(in, in[pos:have])
		have -= pos
		if have == len(in) {
			return
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

func main() {
	if len(os.Args) != 3 || (os.Args[1] != "raw" && os.Args[1] != "std") {
		fmt.Fprintln(os.Stderr, "usage: http raw|std PORT")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	if os.Args[1] == "std" {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("hello"))
		})
		http.Serve(ln, h)
		return
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go serveRaw(c)
	}
}
