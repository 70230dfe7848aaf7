// Command workload burns CPU for about a second in a few recognisable
// functions and writes a CPU profile and a heap profile, for stackconv's
// pprof tests (see ../record.sh).
//
// Shape of the work:
//   - fib: plain recursion, so stacks repeat a frame many times;
//   - checksum -> mix -> rotl: small helpers the compiler inlines, so
//     locations carry several lines (inline frames);
//   - grow: allocations that stay reachable, so the heap profile has
//     in-use and allocated space;
//   - pprof.Do labels ("worker") on the CPU samples: string labels.
package main

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"
)

var sink uint64

// kept holds allocations so that they show as in-use in the heap profile.
var kept [][]byte

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func rotl(x uint64, k uint) uint64 {
	return x<<k | x>>(64-k)
}

func mix(h, v uint64) uint64 {
	h ^= v * 0x9e3779b97f4a7c15
	return rotl(h, 31) * 0xbf58476d1ce4e5b9
}

func checksum(data []byte) uint64 {
	var h uint64 = 1469598103934665603
	for _, b := range data {
		h = mix(h, uint64(b))
	}
	return h
}

//go:noinline
func grow(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

//go:noinline
func allocate(deadline time.Time) {
	for i := 0; time.Now().Before(deadline); i++ {
		b := grow(1024 + i%4096)
		if i%8 == 0 {
			kept = append(kept, b)
		}
		sink += checksum(b[:64])
	}
}

//go:noinline
func hashLoop(deadline time.Time) {
	data := grow(1 << 16)
	for time.Now().Before(deadline) {
		sink += checksum(data)
	}
}

//go:noinline
func fibLoop(deadline time.Time) {
	for time.Now().Before(deadline) {
		sink += uint64(fib(27))
	}
}

func run(ctx context.Context, worker string, f func(time.Time), d time.Duration, wg *sync.WaitGroup) {
	defer wg.Done()
	pprof.Do(ctx, pprof.Labels("worker", worker), func(context.Context) {
		f(time.Now().Add(d))
	})
}

func main() {
	if len(os.Args) != 3 {
		os.Stderr.WriteString("usage: workload CPU.pb.gz HEAP.pb.gz\n")
		os.Exit(2)
	}
	// Sample every 4 KiB allocated so the heap profile has a few dozen
	// stacks from a short run.
	runtime.MemProfileRate = 4096

	cpu, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		panic(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	wg.Add(3)
	go run(ctx, "fib", fibLoop, 900*time.Millisecond, &wg)
	go run(ctx, "hash", hashLoop, 900*time.Millisecond, &wg)
	go run(ctx, "alloc", allocate, 300*time.Millisecond, &wg)
	wg.Wait()
	pprof.StopCPUProfile()
	if err := cpu.Close(); err != nil {
		panic(err)
	}

	runtime.GC()
	heap, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("heap").WriteTo(heap, 0); err != nil {
		panic(err)
	}
	if err := heap.Close(); err != nil {
		panic(err)
	}
	runtime.KeepAlive(kept)
}
