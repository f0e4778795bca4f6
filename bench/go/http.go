// HTTP hello in Go for bench/net/run.sh, GOMAXPROCS=1, in two modes:
//   raw  a goroutine per connection on net.Conn with the minimal handling of
//        corun's http_hello and bench/net/epoll_http.c: each "\r\n\r\n" ends
//        a request, answered with a fixed 200 "hello", keep-alive;
//   std  net/http with a handler that writes "hello" (net/http parses the
//        request in full and adds a Date header: what a Go programmer gets).
// Usage: http raw|std PORT (0 picks one; prints "listening on PORT").
package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
)

var reply = []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")

func serveRaw(c net.Conn) {
	defer c.Close()
	in := make([]byte, 4096)
	have := 0
	var out []byte
	for {
		n, err := c.Read(in[have:])
		if err != nil {
			return
		}
		have += n
		out = out[:0]
		used := 0
		for {
			i := bytes.Index(in[used:have], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			used += i + 4
			out = append(out, reply...)
		}
		copy(in, in[used:have])
		have -= used
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
