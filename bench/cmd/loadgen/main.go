// Command loadgen is the one load generator of the peer benchmarks. It
// speaks raw TCP: a hand-written handshake, then pre-encoded masked frames
// in the peer's own format (native, wsevents events or neffos events) whose
// sequence digits are patched in place, so the client side costs the same
// for every server. It counts every reply and fails the run (exit status 1,
// "ok": false) on loss, duplication or corruption.
//
// Scenarios:
//
//	echo       -conns connections, one message in flight on each; every
//	           reply must be the message sent, byte for byte
//	broadcast  -conns receivers; the first one also sends triggers, keeping
//	           -inflight broadcasts outstanding (a broadcast is complete when
//	           every receiver has it); each receiver must see every sequence
//	           number once, in order
//	rooms      -conns connections split evenly among -rooms rooms
//	           (connection i is in room i mod -rooms, path /rooms/<room>);
//	           each room keeps -inflight messages outstanding, each sent by
//	           the room's next member in turn (a message is complete when
//	           every member has it, its sender included); each member must
//	           see every sequence number of its room once, in order
//	latency    -conns connections, -rate messages per second in all, sent
//	           on a fixed schedule whatever the replies (open loop); each
//	           reply's latency is measured from the time its message was
//	           due, so a stalled server or sender counts in full
//	           (latency.go); every reply must be the message sent
//	idle       -conns connections (from the local address -bind), handshake
//	           done, then silent: one line {"phase":"ready",...} on stdout
//	           once all are open, then they are held (pings answered) until
//	           stdin reaches EOF; then a line {"phase":"done",...} says how
//	           many the server dropped meanwhile. Nothing else is sent.
//
// The server's CPU time (utime+stime from /proc/<pid>/stat) is read at the
// start and the end of the measured window (after -warmup). One JSON object
// goes to stdout.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wsevents/wsevents/bench/internal/wire"
)

type options struct {
	addr     string
	bind     string
	pid      int
	label    string
	format   string
	scenario string
	conns    int
	size     int
	inflight int
	rooms    int
	rate     float64
	warmup   time.Duration
	duration time.Duration
	timeout  time.Duration
}

// Result is what one run reports.
type Result struct {
	Label      string   `json:"label"`
	Format     string   `json:"format"`
	Scenario   string   `json:"scenario"`
	Conns      int      `json:"conns"`
	Size       int      `json:"size"`
	Inflight   int      `json:"inflight,omitempty"` // broadcast: in all; rooms: per room
	Rooms      int      `json:"rooms,omitempty"`
	Msgs       uint64   `json:"msgs"`         // delivered in the measured window
	Elapsed    float64  `json:"elapsed_s"`    // measured window
	Rate       float64  `json:"rate"`         // delivered messages per second
	ServerCPU  float64  `json:"server_cpu_s"` // utime+stime in the window
	CPUPerMsg  float64  `json:"cpu_ns_per_msg"`
	CPUUtil    float64  `json:"server_cpu_util"` // server CPU / wall time
	Sent       uint64   `json:"sent"`            // whole run, warm-up included
	Delivered  uint64   `json:"delivered"`       // whole run
	Lost       uint64   `json:"lost"`
	Duplicated uint64   `json:"duplicated"`
	Latency    *Latency `json:"latency,omitempty"` // scenario latency
	Errors     []string `json:"errors,omitempty"`
	OK         bool     `json:"ok"`
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:9100", "server `address`")
	flag.IntVar(&o.pid, "pid", 0, "server `pid`, for its CPU time (0: not measured)")
	flag.StringVar(&o.label, "label", "", "label copied into the result")
	flag.StringVar(&o.format, "format", "native", "message format: native, wsevents, neffos")
	flag.StringVar(&o.bind, "bind", "", "local IP `address` to dial from (default: any)")
	flag.StringVar(&o.scenario, "scenario", "echo", "echo, broadcast, rooms, latency or idle")
	flag.IntVar(&o.conns, "conns", 100, "connections (echo, latency), receivers (broadcast) or members of all rooms (rooms)")
	flag.IntVar(&o.size, "size", 64, "application payload `bytes` (sequence digits included; envelope not)")
	flag.IntVar(&o.inflight, "inflight", 16, "broadcasts in flight (rooms: per room)")
	flag.IntVar(&o.rooms, "rooms", 100, "rooms (scenario rooms): -conns are split evenly among them")
	flag.Float64Var(&o.rate, "rate", 10000, "offered messages per second in all (scenario latency)")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "warm-up before measuring")
	flag.DurationVar(&o.duration, "duration", 3*time.Second, "measured window")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Second, "a reply later than this is lost")
	flag.Parse()

	if err := raiseOpenFiles(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: open-file limit:", err)
	}
	f, err := wire.FormatFor(o.format, o.scenario)
	if err != nil {
		fatal(err)
	}
	if o.scenario == "idle" {
		os.Exit(runIdle(o, f))
	}
	r := Result{Label: o.label, Format: o.format, Scenario: o.scenario, Conns: o.conns, Size: o.size}
	switch o.scenario {
	case "echo":
		err = runEcho(o, f, &r)
	case "broadcast":
		r.Inflight = o.inflight
		err = runBroadcast(o, f, &r)
	case "rooms":
		r.Inflight, r.Rooms = o.inflight, o.rooms
		err = runRooms(o, f, &r)
	case "latency":
		err = runLatency(o, f, &r)
	default:
		err = fmt.Errorf("unknown scenario %q", o.scenario)
	}
	if err != nil {
		r.Errors = append(r.Errors, err.Error())
	}
	r.OK = len(r.Errors) == 0 && r.Lost == 0 && r.Duplicated == 0
	json.NewEncoder(os.Stdout).Encode(r)
	if !r.OK {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(2)
}

var mask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// dialAll opens n connections, 32 handshakes at a time.
func dialAll(o options, f wire.Format, n int) ([]*wire.Conn, error) {
	return dialEach(o, func(int) wire.Format { return f }, n)
}

// dialEach opens n connections, connection i in format f(i).
func dialEach(o options, f func(i int) wire.Format, n int) ([]*wire.Conn, error) {
	conns := make([]*wire.Conn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := wire.DialFrom(o.bind, o.addr, f(i), mask, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		closeAll(conns)
		return nil, fmt.Errorf("dial: %w", err)
	}
	return conns, nil
}

func closeAll(conns []*wire.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// errList collects the first errors of a run.
type errList struct {
	mu   sync.Mutex
	list []string
	n    int
}

func (e *errList) add(format string, a ...any) {
	e.mu.Lock()
	e.n++
	if len(e.list) < 5 {
		e.list = append(e.list, fmt.Sprintf(format, a...))
	}
	e.mu.Unlock()
}

func (e *errList) into(r *Result) {
	e.mu.Lock()
	r.Errors = append(r.Errors, e.list...)
	if e.n > len(e.list) {
		r.Errors = append(r.Errors, fmt.Sprintf("... and %d more", e.n-len(e.list)))
	}
	e.mu.Unlock()
}

// counter is a per-connection counter on its own cache line.
type counter struct {
	n atomic.Uint64
	_ [56]byte
}

func sum(cs []counter) uint64 {
	var t uint64
	for i := range cs {
		t += cs[i].n.Load()
	}
	return t
}

// window measures the server over [warm-up end, warm-up end + duration]
// with total() as the delivered-message count.
func window(o options, total func() uint64, r *Result) error {
	time.Sleep(o.warmup)
	cpu0, err := serverCPU(o.pid)
	if err != nil {
		return err
	}
	n0, t0 := total(), time.Now()
	time.Sleep(o.duration)
	cpu1, err := serverCPU(o.pid)
	if err != nil {
		return err
	}
	n1, t1 := total(), time.Now()
	r.Msgs = n1 - n0
	r.Elapsed = t1.Sub(t0).Seconds()
	r.Rate = float64(r.Msgs) / r.Elapsed
	r.ServerCPU = cpu1 - cpu0
	r.CPUUtil = r.ServerCPU / r.Elapsed
	if r.Msgs > 0 {
		r.CPUPerMsg = r.ServerCPU * 1e9 / float64(r.Msgs)
	}
	return nil
}

func runEcho(o options, f wire.Format, r *Result) error {
	conns, err := dialAll(o, f, o.conns)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	var (
		stop       atomic.Bool
		sent       = make([]counter, len(conns))
		got        = make([]counter, len(conns))
		errs       errList
		lost, dups atomic.Uint64
		wg         sync.WaitGroup
	)
	deadline := time.Now().Add(o.warmup + o.duration + o.timeout)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := wire.NewTemplate(f, o.size, mask)
			c.NC.SetReadDeadline(deadline)
			for seq := uint64(1); !stop.Load(); seq++ {
				t.SetSeq(seq)
				if err := c.Write(t.Frame); err != nil {
					errs.add("conn %d: write: %v", i, err)
					return
				}
				sent[i].n.Add(1)
				_, p, err := c.ReadMessage()
				if err != nil {
					lost.Add(1)
					errs.add("conn %d: message %d: %v", i, seq, err)
					return
				}
				if !bytes.Equal(p, t.Expected) {
					if n, ok := wire.ParseSeq(p, len(f.ReplyPrefix)); ok && n < seq {
						dups.Add(1)
					} else {
						lost.Add(1)
					}
					errs.add("conn %d: message %d: got %.40q, want %.40q", i, seq, p, t.Expected)
					return
				}
				got[i].n.Add(1)
			}
			// Nothing more may come: a late extra reply is a duplicate.
			c.NC.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, p, err := c.ReadMessage(); err == nil {
				dups.Add(1)
				errs.add("conn %d: extra message after the last reply: %.40q", i, p)
			}
		}()
	}
	werr := window(o, func() uint64 { return sum(got) }, r)
	stop.Store(true)
	wg.Wait()
	r.Sent, r.Delivered = sum(sent), sum(got)
	r.Lost, r.Duplicated = lost.Load(), dups.Load()
	errs.into(r)
	return werr
}

func runBroadcast(o options, f wire.Format, r *Result) error {
	conns, err := dialAll(o, f, o.conns)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	// Give every server time to file the last connections in its registry.
	time.Sleep(300 * time.Millisecond)
	R := int32(len(conns))
	var (
		stop      atomic.Bool
		finished  atomic.Bool
		got       = make([]counter, len(conns))
		ring      [64]atomic.Int32
		credits   = make(chan struct{}, o.inflight)
		errs      errList
		dups, bad atomic.Uint64
		sentN     atomic.Uint64
		wg        sync.WaitGroup
	)
	for range o.inflight {
		credits <- struct{}{}
	}
	plen := len(f.ReplyPrefix)
	want := wire.NewTemplate(f, o.size, mask).Expected // for length and prefix checks
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := uint64(1)
			for {
				_, p, err := c.ReadMessage()
				if err != nil {
					if !finished.Load() {
						errs.add("receiver %d: %v", i, err)
					}
					return
				}
				seq, ok := wire.ParseSeq(p, plen)
				if !ok || len(p) != len(want) || !bytes.Equal(p[:plen], want[:plen]) {
					bad.Add(1)
					errs.add("receiver %d: unexpected message %.40q", i, p)
					continue
				}
				switch {
				case seq < next:
					dups.Add(1)
					errs.add("receiver %d: message %d again (expected %d)", i, seq, next)
					continue
				case seq > next:
					errs.add("receiver %d: messages %d..%d missing", i, next, seq-1)
				}
				next = seq + 1
				got[i].n.Add(1)
				if ring[seq&63].Add(1) == R {
					ring[seq&63].Store(0)
					credits <- struct{}{}
				}
			}
		}()
	}
	// The trigger sender: the first connection.
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		t := wire.NewTemplate(f, o.size, mask)
		timer := time.NewTimer(time.Hour)
		for seq := uint64(1); !stop.Load(); seq++ {
			select {
			case <-credits:
			default:
				timer.Reset(o.timeout)
				select {
				case <-credits:
				case <-timer.C:
					errs.add("broadcast stalled: no broadcast completed within %v", o.timeout)
					return
				}
			}
			t.SetSeq(seq)
			if err := conns[0].Write(t.Frame); err != nil {
				errs.add("trigger %d: %v", seq, err)
				return
			}
			sentN.Store(seq)
		}
	}()
	werr := window(o, func() uint64 { return sum(got) }, r)
	stop.Store(true)
	<-senderDone
	// Wait for the broadcasts in flight to arrive everywhere.
	expect := sentN.Load() * uint64(R)
	drain(o, func() uint64 { return sum(got) }, expect)
	time.Sleep(100 * time.Millisecond) // late duplicates show up here
	finished.Store(true)
	r.Sent = expect
	r.Delivered = sum(got)
	if r.Delivered < expect {
		r.Lost = expect - r.Delivered
	}
	r.Duplicated = dups.Load() + bad.Load()
	closeAll(conns)
	wg.Wait()
	errs.into(r)
	return werr
}

// drain waits until total() reaches want, for as long as deliveries keep
// coming: what is still missing after o.timeout without progress (or 60 s
// in all) is lost. A slow server may still be writing the tail of the
// messages in flight when the sender stops (16 broadcasts to 10,000 are
// 160,000 deliveries); that is not a loss.
func drain(o options, total func() uint64, want uint64) {
	last, lastAt := total(), time.Now()
	deadline := lastAt.Add(60 * time.Second)
	for {
		n := total()
		if n >= want || time.Now().After(deadline) {
			return
		}
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > o.timeout {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serverCPU is the utime+stime of pid, in seconds.
func serverCPU(pid int) (float64, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad /proc stat")
	}
	fields := strings.Fields(string(b[i+1:]))
	// After the command: state is field 3 of stat(5), utime 14, stime 15.
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseUint(fields[11], 10, 64)
	st, err2 := strconv.ParseUint(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad /proc stat times")
	}
	return float64(ut+st) / clkTck, nil
}

// clkTck is USER_HZ, 100 on Linux/amd64 and arm64.
const clkTck = 100

// IdleReport is one line of the idle scenario's output.
type IdleReport struct {
	Phase   string   `json:"phase"` // ready, done
	Bind    string   `json:"bind,omitempty"`
	Conns   int      `json:"conns"`
	DialS   float64  `json:"dial_s,omitempty"`  // time to open them all
	Dropped int      `json:"dropped,omitempty"` // closed by the server while held
	Errors  []string `json:"errors,omitempty"`
	OK      bool     `json:"ok"`
}

// runIdle opens o.conns connections, reports them ready, holds them silent
// until stdin closes and reports how many the server dropped meanwhile. Each
// connection has a reader so that server pings are answered (melody closes
// a connection whose pongs stop); a data message from the server is an
// error. It returns the exit status.
func runIdle(o options, f wire.Format) int {
	enc := json.NewEncoder(os.Stdout)
	t0 := time.Now()
	conns, err := dialAll(o, f, o.conns)
	if err != nil {
		enc.Encode(IdleReport{Phase: "ready", Bind: o.bind, Errors: []string{err.Error()}})
		return 1
	}
	dial := time.Since(t0).Seconds()
	var (
		finished atomic.Bool
		dropped  atomic.Int64
		errs     errList
		wg       sync.WaitGroup
	)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, p, err := c.ReadMessage()
				if finished.Load() {
					return
				}
				if err != nil {
					dropped.Add(1)
					errs.add("conn %d: %v", i, err)
					return
				}
				errs.add("conn %d: unexpected message %.40q", i, p)
			}
		}()
	}
	enc.Encode(IdleReport{Phase: "ready", Bind: o.bind, Conns: len(conns), DialS: dial, OK: true})
	io.Copy(io.Discard, os.Stdin)
	finished.Store(true)
	for _, c := range conns {
		c.NC.Close() // no close handshake: it would make the server work
	}
	wg.Wait()
	r := IdleReport{Phase: "done", Bind: o.bind, Conns: len(conns), Dropped: int(dropped.Load())}
	errs.mu.Lock()
	r.Errors = errs.list
	errs.mu.Unlock()
	r.OK = len(r.Errors) == 0
	enc.Encode(r)
	if !r.OK {
		return 1
	}
	return 0
}

// raiseOpenFiles sets the soft RLIMIT_NOFILE to the hard limit.
func raiseOpenFiles() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return nil
}
