// Channel ping-pong in Go, for corun's benchmark suite (bench/wait.c runs
// it with GOMAXPROCS=1, pinned to the suite's CPU): two goroutines pass a
// value back and forth over two channels, unbuffered and then with a
// buffer of one. Prints ns per message, the median of 11 trials.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"
)

func trial(n int, capacity int) float64 {
	ab := make(chan int, capacity)
	ba := make(chan int, capacity)
	done := make(chan bool)
	go func() {
		for i := 0; i < n; i++ {
			v := <-ab
			ba <- v
		}
		done <- true
	}()
	t0 := time.Now()
	v := 0
	for i := 0; i < n; i++ {
		ab <- v
		v = <-ba + 1
	}
	el := time.Since(t0)
	<-done
	return float64(el.Nanoseconds()) / float64(2*n)
}

func median(n int, capacity int) float64 {
	trial(n/10, capacity) // warm-up
	var s []float64
	for k := 0; k < 11; k++ {
		s = append(s, trial(n, capacity))
	}
	sort.Float64s(s)
	return s[len(s)/2]
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		if v, err := strconv.Atoi(os.Args[1]); err == nil && v > 0 {
			n = v
		}
	}
	fmt.Printf("unbuffered %.2f\n", median(n, 0))
	fmt.Printf("buffered %.2f\n", median(n, 1))
}
