package wsevents

import (
	"strings"
	"testing"
	"time"
)

// The allocation budget of the hot paths, counted over the whole process
// (the emitting goroutine, the shared writers, the read loops): an emit to
// one connection and a broadcast to 100 allocate nothing in the steady
// state. testing.AllocsPerRun truncates the average, so a stray runtime
// allocation over the runs does not count; one per emit, or one per
// recipient, does. (Timing is benchmarks' business: make bench-core.)
func TestHotPathAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are checked without -race (make test runs this test so too)")
	}
	s := New(Config{PingPeriod: -1, MaxQueuedMessages: 1 << 16, MaxQueuedBytes: 1 << 26})
	conns := benchConns(t, s, 100)
	one := conns[0]
	msg := []byte(strings.Repeat("x", 64))
	n := 0
	drainEvery := func(f func() error) func() {
		return func() {
			if err := f(); err != nil {
				t.Fatal(err)
			}
			if n++; n%64 == 0 {
				waitDrained(conns)
			}
		}
	}
	// check: after a warm-up (queues and write vectors at their working
	// size), f allocates nothing per call.
	check := func(name string, f func()) {
		for i := 0; i < 256; i++ {
			f()
		}
		waitDrained(conns)
		if avg := testing.AllocsPerRun(1000, f); avg != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, avg)
		}
		waitDrained(conns)
	}
	cases := []struct {
		name string
		f    func() error
	}{
		{"EmitRaw to one connection", func() error { return one.EmitRaw("tick", KindText, msg) }},
		{"Emit of an int to one connection", func() error { return one.Emit("tick", 123456) }},
		{"EmitMessage to one connection", func() error { return one.EmitMessage(Message{Kind: KindText, Data: msg}) }},
		{"broadcast to 100 connections", func() error { return s.To(All).EmitRaw("news", KindText, msg) }},
	}
	for _, c := range cases {
		check(c.name, drainEvery(c.f))
	}
	// Each broadcast a burst of its own: the queues drained after every
	// one, so the writers finish and the next broadcast starts them again
	// (a go statement, a ring, its list of ready connections).
	lone := func() {
		if err := s.To(All).EmitRaw("news", KindText, msg); err != nil {
			t.Fatal(err)
		}
		waitDrained(conns)
		for {
			s.wq.mu.Lock()
			gone := s.wq.writers == 0
			s.wq.mu.Unlock()
			if gone {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	sends := ringSends()
	check("broadcast to 100 connections, one burst each", lone)
	if uringWorks() && ringSends() == sends {
		t.Error("the lone broadcasts made no send through a ring: the ring's path was not checked")
	}
}
