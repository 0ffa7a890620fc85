package wsevents

import (
	"strings"
	"testing"
)

// The allocation budget of the hot paths, counted over the whole process
// (the emitting goroutine, the shared writers, the read loops): an emit to
// one connection and a broadcast to 100 allocate nothing in the steady
// state. testing.AllocsPerRun truncates the average, so a stray runtime
// allocation over the runs does not count; one per emit, or one per
// recipient, does. (Timing is benchmarks' business: make bench.)
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
		// Warm-up: queues and write vectors grow to their working size.
		for i := 0; i < 256; i++ {
			drainEvery(c.f)()
		}
		waitDrained(conns)
		if avg := testing.AllocsPerRun(1000, drainEvery(c.f)); avg != 0 {
			t.Errorf("%s: %v allocations per call, want 0", c.name, avg)
		}
		waitDrained(conns)
	}
}
