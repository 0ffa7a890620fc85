package main

// Allocations per message, side by side: each library's server as the
// benchserver builds it (the same handlers, in this process), driven by
// the load generator's client code (internal/wire), whose pre-encoded
// frames and reused read buffers allocate nothing once connected. So
// -benchmem's allocs/op and B/op are the server's: its read of a message
// and its writes of the reply or of the broadcast, and whatever its
// goroutines and channels cost on the way.
//
//	cd bench
//	GOMAXPROCS=1 GOWORK=off go test -run '^$' -bench . -benchmem -count 5 ./cmd/benchserver > /tmp/allocs.txt
//	GOWORK=off go tool benchstat -col /lib /tmp/allocs.txt
//
// benchrun runs them so (-preset full, short or allocs; GOMAXPROCS=1 as
// the suite's servers) and puts the table in results/results.md.

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsevents/wsevents/bench/internal/peers"
	"github.com/wsevents/wsevents/bench/internal/wire"
)

// The broadcast benchmarks' numbers of receivers.
var allocBcastConns = []int{100, 1000}

// allocSize is the application payload of every message (as the 64 B
// cases of the suite).
const allocSize = 64

var (
	allocSrvMu sync.Mutex
	allocSrv   = map[string]*httptest.Server{}
)

// serverOf is lib's server, started at its first use and kept for the
// process: a benchmark function runs several times (b.N grows), and some
// libraries' servers cannot be stopped (the benchserver never stops them
// either). Connections are per run.
func serverOf(b *testing.B, lib string) string {
	allocSrvMu.Lock()
	defer allocSrvMu.Unlock()
	if s, ok := allocSrv[lib]; ok {
		return s.Listener.Addr().String()
	}
	mk, ok := libs[lib]
	if !ok {
		b.Fatalf("no library %q", lib)
	}
	s := httptest.NewServer(mk(http.NewServeMux()))
	allocSrv[lib] = s
	return s.Listener.Addr().String()
}

// dialAll opens n client connections of format f to lib's server; they are
// closed when the run ends, and the run waits a little longer so that the
// server has let them go before the next run connects.
func dialAll(b *testing.B, lib string, f wire.Format, n int) []*wire.Conn {
	addr := serverOf(b, lib)
	conns := make([]*wire.Conn, 0, n)
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
		time.Sleep(200 * time.Millisecond)
	})
	for i := 0; i < n; i++ {
		c, err := wire.Dial(addr, f, [4]byte{1, 2, 3, byte(i)}, 10*time.Second)
		if err != nil {
			b.Fatalf("%s: connection %d: %v", lib, i, err)
		}
		conns = append(conns, c)
	}
	return conns
}

func formatFor(b *testing.B, name, scenario string) wire.Format {
	f, err := wire.FormatFor(name, scenario)
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkEcho: one message echoed by the server, one connection, one
// message in flight; per op, the server reads one message and writes one.
func BenchmarkEcho(b *testing.B) {
	b.Run("fmt=native", func(b *testing.B) {
		for _, lib := range peers.Native {
			b.Run("lib="+lib, func(b *testing.B) { benchEcho(b, lib, formatFor(b, "native", "echo")) })
		}
	})
	b.Run("fmt=events", func(b *testing.B) {
		for _, lib := range peers.EventEcho {
			b.Run("lib="+lib, func(b *testing.B) { benchEcho(b, lib, formatFor(b, peers.Format(lib, "events"), "echo")) })
		}
	})
}

func benchEcho(b *testing.B, lib string, f wire.Format) {
	c := dialAll(b, lib, f, 1)[0]
	t := wire.NewTemplate(f, allocSize, [4]byte{1, 2, 3, 0})
	seq := uint64(0)
	round := func() {
		seq++
		t.SetSeq(seq)
		if err := c.Write(t.Frame); err != nil {
			b.Fatalf("%s: write: %v", lib, err)
		}
		_, p, err := c.ReadMessage()
		if err != nil {
			b.Fatalf("%s: read: %v", lib, err)
		}
		if !bytes.Equal(p, t.Expected) {
			b.Fatalf("%s: echo %.40q, want %.40q", lib, p, t.Expected)
		}
	}
	// Warm-up: the server's buffers and pools reach their working size.
	for range 200 {
		round()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		round()
	}
}

// BenchmarkBroadcast: one message broadcast by the server to every
// connection of /bcast (the sender included), one broadcast at a time; per
// op, the server reads one message and writes it to conns connections.
// The allocs-per-delivery metric is allocs/op divided by conns.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range allocBcastConns {
		b.Run("conns="+wire.Itoa(n), func(b *testing.B) {
			for _, lib := range peers.NativeBroadcast {
				b.Run("lib="+lib, func(b *testing.B) { benchBroadcast(b, lib, n) })
			}
		})
	}
}

func benchBroadcast(b *testing.B, lib string, n int) {
	f := formatFor(b, "native", "broadcast")
	conns := dialAll(b, lib, f, n)
	t := wire.NewTemplate(f, allocSize, [4]byte{9, 8, 7, 6})
	var (
		cur    atomic.Uint64 // the broadcast under way
		got    atomic.Int64  // its deliveries so far
		strict atomic.Bool   // every delivery must be of cur (after the warm-up)
		done   = make(chan struct{}, 1)
		failed = make(chan string, len(conns)+1)
		stop   atomic.Bool
		wg     sync.WaitGroup
	)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			for {
				_, p, err := c.ReadMessage()
				if err != nil {
					if !stop.Load() {
						failed <- lib + ": receiver " + wire.Itoa(i) + ": " + err.Error()
					}
					return
				}
				seq, ok := wire.ParseSeq(p, 0)
				if !ok || len(p) != len(t.Expected) || seq <= last {
					failed <- lib + ": receiver " + wire.Itoa(i) + ": a message duplicated, out of order or not sent"
					return
				}
				last = seq
				switch {
				case seq == cur.Load():
					if got.Add(1) == int64(n) {
						done <- struct{}{}
					}
				case strict.Load():
					failed <- lib + ": receiver " + wire.Itoa(i) + ": a message of an earlier broadcast"
					return
				}
			}
		}()
	}
	b.Cleanup(func() {
		stop.Store(true)
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	})
	send := func() {
		seq := cur.Load() + 1
		t.SetSeq(seq)
		got.Store(0)
		cur.Store(seq)
		if err := conns[0].Write(t.Frame); err != nil {
			b.Fatalf("%s: write: %v", lib, err)
		}
	}
	// Warm-up: every connection registered. A broadcast may miss the
	// connections the server has not filed yet: send until one reaches
	// all. Each connection's messages arrive in order, so once one
	// broadcast has reached every connection, none of an earlier one is
	// still to come.
	registered := false
	for deadline := time.Now().Add(10 * time.Second); !registered; {
		select {
		case <-done: // a late completion of an earlier try
		default:
		}
		send()
		select {
		case <-done:
			registered = true
		case msg := <-failed:
			b.Fatal(msg)
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(deadline) {
				b.Fatalf("%s: a broadcast reaches %d of %d connections", lib, got.Load(), n)
			}
		}
	}
	strict.Store(true)
	// A broadcast that does not complete within stall fails the run: a
	// watchdog, so that the measured loop waits on channels alone.
	progress := make(chan struct{}, 1)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		const stall = 10 * time.Second
		tm := time.NewTimer(stall)
		defer tm.Stop()
		for {
			select {
			case <-quit:
				return
			case <-progress:
				tm.Reset(stall)
			case <-tm.C:
				failed <- lib + ": a broadcast did not reach every connection within " + stall.String()
				return
			}
		}
	}()
	one := func() {
		send()
		select {
		case <-done:
		case msg := <-failed:
			b.Fatal(msg)
		}
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	// The servers' queues and buffers at their working size.
	for range 64 {
		one()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		one()
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	deliveries := float64(b.N) * float64(n)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/deliveries, "allocs/delivery")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/deliveries, "B/delivery")
}
