package wsevents

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// benchConns connects n raw clients that read and discard everything, and
// returns the server-side connections. Discarding with io.Copy keeps the
// client side allocation-free, so -benchmem counts the server's work.
func benchConns(b testing.TB, s *Server, n int) []Connection {
	b.Helper()
	got := make(chan Connection, n)
	s.OnConnection(func(c Connection) { got <- c })
	url := testServer(b, s)
	conns := make([]Connection, 0, n)
	for i := 0; i < n; i++ {
		d := ws.Dialer{Protocols: []string{Subprotocol}, Timeout: 5 * time.Second}
		nc, br, _, err := d.Dial(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		if br != nil {
			ws.PutReader(br)
		}
		b.Cleanup(func() { nc.Close() })
		go io.Copy(io.Discard, nc)
		conns = append(conns, <-got)
	}
	return conns
}

// waitDrained waits until every queue is empty, so the next iteration's
// work is not hidden in a backlog.
func waitDrained(conns []Connection) {
	for _, c := range conns {
		cc := c
		for {
			cc.wmu.Lock()
			idle := len(cc.queue) == 0 && !cc.flushing
			cc.wmu.Unlock()
			if idle {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// BenchmarkEmit measures an emit to one connection, queue to socket.
// Steady state must be 0 allocs/op.
func BenchmarkEmit(b *testing.B) {
	for _, kind := range []string{"raw-text", "raw-json", "int", "text", "bytes"} {
		b.Run(kind, func(b *testing.B) {
			s := New(Config{MaxQueuedMessages: 1 << 16, MaxQueuedBytes: 1 << 26})
			conns := benchConns(b, s, 1)
			c := conns[0]
			text := strings.Repeat("x", 64)
			raw := []byte(text)
			n := 123456
			jsonRaw := []byte(`{"price":101.25,"sym":"ACME"}`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var err error
				switch kind {
				case "raw-text":
					err = c.EmitRaw("tick", KindText, raw)
				case "raw-json":
					err = c.EmitRaw("tick", KindJSON, jsonRaw)
				case "text":
					err = c.Emit("tick", text) // Go boxes text into any: 1 alloc
				case "int":
					err = c.Emit("tick", n)
				case "bytes":
					err = c.Emit("tick", raw)
				}
				if err != nil {
					b.Fatal(err)
				}
				if i%512 == 511 {
					waitDrained(conns)
				}
			}
			waitDrained(conns)
		})
	}
}

// BenchmarkBroadcast measures one broadcast to N connections. The frame is
// built once: allocations per op must not grow with N.
func BenchmarkBroadcast(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run("conns="+strconv.Itoa(n), func(b *testing.B) {
			s := New(Config{})
			conns := benchConns(b, s, n)
			msg := []byte(strings.Repeat("y", 64))
			// Warm up: each connection's queue and write vectors grow to
			// their working size once; then a broadcast allocates nothing.
			for i := 0; i < 256; i++ {
				if err := s.To(All).EmitRaw("news", KindText, msg); err != nil {
					b.Fatal(err)
				}
				if i%64 == 63 {
					waitDrained(conns)
				}
			}
			waitDrained(conns)
			var sent atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.To(All).EmitRaw("news", KindText, msg); err != nil {
					b.Fatal(err)
				}
				sent.Add(int64(n))
				if i%64 == 63 {
					waitDrained(conns)
				}
			}
			waitDrained(conns)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sent.Load()), "ns/delivery")
		})
	}
}
