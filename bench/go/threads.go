// Cross-thread baselines in Go, for bench/threads/run.sh: what Go's
// channels cost between goroutines that may run on two CPUs at once
// (GOMAXPROCS=2). Subcommands, each printing one line "name value unit",
// the median of its repetitions:
//
//	pingpong  unbuffered ping-pong between two goroutines: ns per message
//	locked    the same, each goroutine locked to its own OS thread, each
//	          thread pinned to its own CPU: every message wakes a thread
//	queue     one producer, one consumer, int64s through a 1,024-slot
//	          buffered channel: millions of messages per second
//	queue_locked  the same, each goroutine locked to its own OS thread,
//	          each thread pinned to its own CPU: the queue as corun's
//	          threads have it, since a started coroutine never moves
//	spaced    pings 1 ms apart (the receiver is parked): median wake
//	          latency, from the send to the receiver having the value.
//	          The sender wakes from its sleep on some thread, and the
//	          receiver it readies usually runs next on that same thread
//	          (the P's runnext) as soon as the sender waits for the ack:
//	          no second thread is woken, so this is not the wake of a
//	          sleeping thread that eventfd's figure is
//	all       every one of them in turn
//
// Options: --quick (smoke-test sizes), --n N (messages), --reps R.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

var quick bool
var nOpt, repsOpt int

func size(full, small int) int {
	if nOpt > 0 {
		return nOpt
	}
	if quick {
		return small
	}
	return full
}

func reps() int {
	if repsOpt > 0 {
		return repsOpt
	}
	if quick {
		return 3
	}
	return 5
}

func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func report(name string, v float64, unit string) {
	digits := 3
	switch {
	case v >= 1000:
		digits = 0
	case v >= 100:
		digits = 1
	case v >= 10:
		digits = 2
	}
	fmt.Printf("%s %.*f %s\n", name, digits, v, unit)
}

// The first two CPUs this process may use (0 and 1 unless taskset says
// otherwise); both the same one on a single CPU.
var cpus [2]int

type cpuMask [16]uint64

func chooseCPUs() {
	var m cpuMask
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	found := 0
	for c := 0; c < len(m)*64 && found < 2 && e == 0; c++ {
		if m[c/64]&(1<<(c%64)) != 0 {
			cpus[found] = c
			found++
		}
	}
	if found < 2 {
		cpus[1] = cpus[0]
		fmt.Fprintf(os.Stderr, "note: one CPU only: both threads on CPU %d\n", cpus[0])
	}
}

// Pin the calling OS thread (the goroutine must be locked to it).
func pinThread(which int) {
	var m cpuMask
	c := cpus[which]
	m[c/64] = 1 << (c % 64)
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		fmt.Fprintf(os.Stderr, "note: pinning to CPU %d: %v\n", c, e)
	}
}

// One ping-pong of n round trips after a tenth as many untimed; ns per
// one-way message.
func pingpong(n int, locked bool) float64 {
	ab := make(chan int)
	ba := make(chan int)
	warm := n/10 + 1
	done := make(chan float64)
	go func() {
		if locked {
			runtime.LockOSThread()
			pinThread(1)
		}
		for i := 0; i < warm+n; i++ {
			ba <- <-ab
		}
		done <- 0
	}()
	go func() {
		if locked {
			runtime.LockOSThread()
			pinThread(0)
		}
		var t0 time.Time
		v := 0
		for i := 0; i < warm+n; i++ {
			if i == warm {
				t0 = time.Now()
			}
			ab <- v
			v = <-ba + 1
		}
		done <- float64(time.Since(t0).Nanoseconds()) / float64(2*n)
	}()
	a, b := <-done, <-done
	return a + b
}

func pingpongRun(name string, full, small int, locked bool, scale float64, unit string) {
	var v []float64
	for r := 0; r < reps(); r++ {
		n := size(full, small) / 2
		if n < 1 {
			n = 1
		}
		v = append(v, pingpong(n, locked)/scale)
	}
	report(name, median(v), unit)
}

func queueRun(name string, locked bool) {
	var v []float64
	for r := 0; r < reps(); r++ {
		n := size(10000000, 200000)
		c := make(chan int64, 1024)
		res := make(chan float64)
		go func() {
			if locked {
				runtime.LockOSThread()
				pinThread(1)
			}
			for i := 1; i <= n; i++ {
				c <- int64(i)
			}
		}()
		go func() {
			if locked {
				runtime.LockOSThread()
				pinThread(0)
			}
			t0 := time.Now()
			var sum int64
			for i := 0; i < n; i++ {
				sum += <-c
			}
			el := time.Since(t0)
			if sum != int64(n)*int64(n+1)/2 {
				fmt.Fprintln(os.Stderr, "go queue: lost messages")
				os.Exit(1)
			}
			res <- float64(n) / el.Seconds() / 1e6
		}()
		v = append(v, <-res)
	}
	report(name, median(v), "M/s")
}

// The ping carries the monotonic time it was sent; the receiver notes when
// it has it and acknowledges, so that pings never overlap.
func spacedRun() {
	var v []float64
	for r := 0; r < reps(); r++ {
		n := size(300, 30)
		warm := 5
		ping := make(chan time.Time)
		ack := make(chan bool)
		lat := make([]float64, 0, n)
		go func() {
			for i := 0; i < warm+n; i++ {
				time.Sleep(time.Millisecond)
				ping <- time.Now()
				<-ack
			}
		}()
		for i := 0; i < warm+n; i++ {
			sent := <-ping
			woke := time.Since(sent)
			if i >= warm {
				lat = append(lat, float64(woke.Nanoseconds()))
			}
			ack <- true
		}
		v = append(v, median(lat))
	}
	report("go_chan_spaced_wake", median(v)/1000, "us")
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: threads pingpong|locked|queue|queue_locked|spaced|all [--quick] [--n N] [--reps R]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	for i := 2; i < len(os.Args); i++ {
		var err error
		switch os.Args[i] {
		case "--quick":
			quick = true
		case "--n", "--reps":
			if i+1 >= len(os.Args) {
				usage()
			}
			var v int
			v, err = strconv.Atoi(os.Args[i+1])
			if os.Args[i] == "--n" {
				nOpt = v
			} else {
				repsOpt = v
			}
			i++
		default:
			usage()
		}
		if err != nil {
			usage()
		}
	}
	runtime.GOMAXPROCS(2)
	chooseCPUs()
	cmd := os.Args[1]
	ran := false
	if cmd == "pingpong" || cmd == "all" {
		pingpongRun("go_chan_pingpong", 2000000, 200000, false, 1, "ns/msg")
		ran = true
	}
	if cmd == "locked" || cmd == "all" {
		pingpongRun("go_chan_pingpong_locked", 20000, 2000, true, 1000, "us/msg")
		ran = true
	}
	if cmd == "queue" || cmd == "all" {
		queueRun("go_chan_queue", false)
		ran = true
	}
	if cmd == "queue_locked" || cmd == "all" {
		queueRun("go_chan_queue_locked", true)
		ran = true
	}
	if cmd == "spaced" || cmd == "all" {
		spacedRun()
		ran = true
	}
	if !ran {
		usage()
	}
}
