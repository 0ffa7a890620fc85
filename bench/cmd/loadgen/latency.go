package main

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/wsevents/wsevents/bench/internal/wire"
)

// Latency is the result of the latency scenario: round-trip times of the
// messages due in the measured window, from the time each was due.
type Latency struct {
	Rate    float64 `json:"rate"`    // offered, messages per second in all
	Samples int     `json:"samples"` // replies of messages due in the window
	P50     float64 `json:"p50_us"`
	P90     float64 `json:"p90_us"`
	P99     float64 `json:"p99_us"`
	P999    float64 `json:"p999_us"`
	Max     float64 `json:"max_us"`
	Mean    float64 `json:"mean_us"`
	// The sender's lateness (actual send time − due time) over the same
	// messages: the load generator's own part of the figures above.
	SendP50 float64 `json:"send_late_p50_us"`
	SendP99 float64 `json:"send_late_p99_us"`
	SendMax float64 `json:"send_late_max_us"`
}

// runLatency is echo at a fixed offered rate, open loop: message g (g = 0,
// 1, ...) is due at start + g/rate and goes on connection g mod conns, as
// sequence number g/conns + 1 of that connection, whether or not earlier
// replies have come. The latency of a reply is its arrival time minus the
// time its message was due, not the time it was sent: when the server (or
// the sender) stalls, the messages held up behind the stall count with the
// whole wait (no coordinated omission).
//
// Go's timers wake up to a millisecond late, which would swamp loopback
// round trips, so the sender is a goroutine locked to its own thread that
// sleeps in clock_nanosleep until each due time (timer slack 1 ns). That
// thread blocks in the kernel while it waits; the load generator runs with
// GOMAXPROCS=2 in this scenario so that the readers keep a P meanwhile (it
// stays on its one core: taskset).
func runLatency(o options, f wire.Format, r *Result) error {
	if o.rate <= 0 {
		return fmt.Errorf("latency: -rate %v", o.rate)
	}
	runtime.GOMAXPROCS(2)
	conns, err := dialAll(o, f, o.conns)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	n := len(conns)
	interval := 1e9 / o.rate // ns between two messages
	total := o.warmup + o.duration
	count := int(float64(total) / interval) // messages due in all
	winFrom, winTo := o.warmup, total
	// Per message: its send lateness, written by the sender before the
	// write; the reply's latency is written by the connection's reader.
	late := make([]time.Duration, count)
	lat := make([]time.Duration, count)
	var (
		start      time.Time
		started    = make(chan struct{})
		sent       = make([]counter, n)
		got        = make([]counter, n)
		errs       errList
		lost, dups atomic.Uint64
		finished   atomic.Bool
		wg         sync.WaitGroup
	)
	due := func(g int) time.Duration { return time.Duration(float64(g) * interval) }
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-started
			t := wire.NewTemplate(f, o.size, mask) // this reader's copy: expected replies
			for seq := uint64(1); ; seq++ {
				_, p, err := c.ReadMessage()
				if err != nil {
					if !finished.Load() {
						errs.add("conn %d: message %d: %v", i, seq, err)
					}
					return
				}
				now := time.Since(start)
				t.SetSeq(seq)
				if !bytes.Equal(p, t.Expected) {
					if m, ok := wire.ParseSeq(p, len(f.ReplyPrefix)); ok && m < seq {
						dups.Add(1)
					} else {
						lost.Add(1)
					}
					errs.add("conn %d: message %d: got %.40q, want %.40q", i, seq, p, t.Expected)
					return
				}
				if g := int(seq-1)*n + i; g < count {
					lat[g] = now - due(g)
				}
				got[i].n.Add(1)
			}
		}()
	}

	// The sender.
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		setTimerSlack(1)
		tmpl := make([]*wire.Template, n)
		for i := range tmpl {
			tmpl[i] = wire.NewTemplate(f, o.size, mask)
		}
		var mono0 int64
		start, mono0 = clockPair()
		close(started)
		for g := range count {
			d := due(g)
			if time.Since(start) < d {
				sleepUntil(mono0 + int64(d))
			}
			i := g % n
			t := tmpl[i]
			t.SetSeq(uint64(g/n + 1))
			late[g] = time.Since(start) - d
			if err := conns[i].Write(t.Frame); err != nil {
				errs.add("conn %d: write: %v", i, err)
				return
			}
			sent[i].n.Add(1)
		}
	}()
	<-started
	werr := window(o, func() uint64 { return sum(got) }, r)
	<-senderDone
	// The replies still due.
	drain(o, func() uint64 { return sum(got) }, sum(sent))
	time.Sleep(100 * time.Millisecond) // late duplicates show up here
	finished.Store(true)
	r.Sent, r.Delivered = sum(sent), sum(got)
	if r.Delivered < r.Sent {
		lost.Store(max(lost.Load(), r.Sent-r.Delivered))
	}
	r.Lost, r.Duplicated = lost.Load(), dups.Load()
	closeAll(conns)
	wg.Wait()
	errs.into(r)

	// The messages due in the window; a missing reply is already a loss.
	var ls, ss []time.Duration
	for g := range count {
		if d := due(g); d >= winFrom && d < winTo && lat[g] > 0 {
			ls = append(ls, lat[g])
			ss = append(ss, late[g])
		}
	}
	r.Latency = summarizeLatency(o.rate, ls, ss)
	return werr
}

func summarizeLatency(rate float64, lat, late []time.Duration) *Latency {
	l := &Latency{Rate: rate, Samples: len(lat)}
	if len(lat) == 0 {
		return l
	}
	slices.Sort(lat)
	slices.Sort(late)
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	l.P50, l.P90, l.P99, l.P999 = us(quantile(lat, 0.50)), us(quantile(lat, 0.90)), us(quantile(lat, 0.99)), us(quantile(lat, 0.999))
	l.Max = us(lat[len(lat)-1])
	var s float64
	for _, d := range lat {
		s += float64(d)
	}
	l.Mean = s / float64(len(lat)) / 1e3
	l.SendP50, l.SendP99, l.SendMax = us(quantile(late, 0.50)), us(quantile(late, 0.99)), us(late[len(late)-1])
	return l
}

// quantile of sorted xs, nearest rank.
func quantile(xs []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

// Linux clock and sleep calls of the sender (CLOCK_MONOTONIC is the clock
// of Go's monotonic time as well).
const (
	clockMonotonic  = 1
	timerAbstime    = 1
	prSetTimerslack = 29
)

// clockPair reads time.Now and CLOCK_MONOTONIC at (nearly) one instant:
// the schedule is slept to in the one and latencies are read in the
// other, so an offset between the two would shift every figure. Of 20
// tries it keeps the one whose time.Now readings on either side are
// closest, and the midpoint of those.
func clockPair() (time.Time, int64) {
	var (
		t    time.Time
		mono int64
		best = time.Duration(math.MaxInt64)
	)
	for range 20 {
		a := time.Now()
		m := monotonicNow()
		d := time.Since(a)
		if d < best {
			best, t, mono = d, a.Add(d/2), m
		}
	}
	return t, mono
}

func monotonicNow() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// sleepUntil blocks the calling thread until CLOCK_MONOTONIC reaches ns.
func sleepUntil(ns int64) {
	ts := syscall.NsecToTimespec(ns)
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_CLOCK_NANOSLEEP, clockMonotonic, timerAbstime, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

// setTimerSlack sets the calling thread's timer slack (default 50 µs).
func setTimerSlack(ns uintptr) {
	syscall.Syscall(syscall.SYS_PRCTL, prSetTimerslack, ns, 0)
}
