package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Options of a run. Zero fields take the defaults named beside them.
type Options struct {
	Conns        int           // connections in all; default 1000
	Procs        int           // client processes; default one per 2,500 connections, at least 2
	Duration     time.Duration // traffic phase; default 20s
	Warmup       time.Duration // memory baseline: this long from the traffic start; default Duration/4
	Rooms        int           // default Conns/20, at least 5
	RoomsPerConn int           // default 3
	PubEvery     time.Duration // mean time between one connection's actions; default 5s

	BroadcastEvery time.Duration // default 1s
	FloodEvery     time.Duration // default 5s
	FloodBurst     int           // messages per flood burst; default 500
	FloodSize      int           // bytes of padding per flood message; default 512
	FloodFastEvery int           // every Nth connection (offset N/2) reads the flood room at full speed; default 200
	Queue          int           // the server's MaxQueuedMessages; default 128

	// Churn: every ChurnConnEvery'th connection (offset N/2, never a slow
	// or flood reader) leaves cleanly and reconnects under a new ID about
	// every ChurnEvery, with exactly-once accounting per incarnation (see
	// the package documentation).
	ChurnEvery     time.Duration // default 5s; negative: no churn
	ChurnConnEvery int           // default 10

	// Memory bound: after the warm-up, the server's RSS and its live Go
	// heap (what the last GC kept: the leak detector; the heap in use
	// also holds garbage up to the GC's target) must stay under factor ×
	// their largest warm-up value + slack.
	RSSFactor, HeapFactor float64 // defaults 1.5 and 1.5
	RSSSlack, HeapSlack   uint64  // defaults 64 MiB and 32 MiB

	RaceServer bool      // build the server with -race
	Log        io.Writer // progress and the processes' standard error; default io.Discard
}

func (o Options) withDefaults() Options {
	if o.Conns <= 0 {
		o.Conns = 1000
	}
	if o.Procs <= 0 {
		o.Procs = max(2, (o.Conns+2499)/2500)
	}
	if o.Duration <= 0 {
		o.Duration = 20 * time.Second
	}
	if o.Warmup <= 0 {
		o.Warmup = o.Duration / 4
	}
	if o.Rooms <= 0 {
		o.Rooms = max(5, o.Conns/20)
	}
	if o.RoomsPerConn <= 0 {
		o.RoomsPerConn = 3
	}
	if o.PubEvery <= 0 {
		o.PubEvery = 5 * time.Second
	}
	if o.BroadcastEvery <= 0 {
		o.BroadcastEvery = time.Second
	}
	if o.FloodEvery <= 0 {
		o.FloodEvery = 5 * time.Second
	}
	if o.FloodBurst <= 0 {
		o.FloodBurst = 500
	}
	if o.FloodSize <= 0 {
		o.FloodSize = 512
	}
	if o.FloodFastEvery <= 0 {
		o.FloodFastEvery = 200
	}
	if o.Queue <= 0 {
		o.Queue = 128
	}
	if o.ChurnEvery == 0 {
		o.ChurnEvery = 5 * time.Second
	}
	if o.ChurnConnEvery <= 0 {
		o.ChurnConnEvery = 10
	}
	if o.RSSFactor <= 0 {
		o.RSSFactor = 1.5
	}
	if o.HeapFactor <= 0 {
		o.HeapFactor = 1.5
	}
	if o.RSSSlack == 0 {
		o.RSSSlack = 64 << 20
	}
	if o.HeapSlack == 0 {
		o.HeapSlack = 32 << 20
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Summary is what a run counted. Failures lists every check that failed;
// Run returns an error when it is not empty.
type Summary struct {
	Options Options
	Elapsed time.Duration

	Server  ServerReport // without the per-connection counts and samples
	Clients []ClientReport

	Pubs       uint64 // messages clients published to rooms
	Joins      uint64
	Leaves     uint64
	Expected   uint64 // deliveries the server addressed
	Delivered  uint64 // messages the clients received
	Dropped    uint64 // deliveries the slow-consumer policy dropped (sum of Conn.Dropped)
	Lost       int64  // Expected - Delivered - Dropped: must be 0
	Mismatched int    // connections where expected != received + dropped
	OutOfOrder uint64 // duplicates or reorderings seen by receivers
	Pauses     uint64
	Reconnects uint64 // churn: clean leaves followed by a new connection
	Churners   int    // connections that churn

	SlowConns        int
	SlowDropped      uint64 // of Dropped, on the slow readers (every 100th connection)
	FloodFastDropped uint64 // on the flood room's fast readers
	OtherDropped     uint64 // on the others

	Trend []MemSample // a few samples across the run

	WarmRSS, MaxRSS   uint64 // server RSS: largest in the warm-up, largest after
	WarmLive, MaxLive uint64 // live heap, likewise
	MaxInuse          uint64 // heap in use, largest
	MaxGoroutines     int
	Samples           int

	Failures []string
}

// Run builds soakserver and soakclient, runs them as described in the
// package documentation, and checks the counters.
func Run(ctx context.Context, o Options) (*Summary, error) {
	o = o.withDefaults()
	sum := &Summary{Options: o}
	t0 := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.Log, "soak %6.1fs: %s\n", time.Since(t0).Seconds(), fmt.Sprintf(format, args...))
	}

	dir, err := os.MkdirTemp("", "wsevents-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	serverBin, clientBin := filepath.Join(dir, "soakserver"), filepath.Join(dir, "soakclient")
	logf("building (server race=%v)", o.RaceServer)
	if err := goBuild(ctx, serverBin, "github.com/wsevents/wsevents/soak/cmd/soakserver", o.RaceServer); err != nil {
		return nil, err
	}
	if err := goBuild(ctx, clientBin, "github.com/wsevents/wsevents/soak/cmd/soakclient", false); err != nil {
		return nil, err
	}

	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.kill()
		}
	}()
	server, err := startProc("server", serverBin, []string{
		"-rooms", strconv.Itoa(o.Rooms),
		"-queue", strconv.Itoa(o.Queue),
		"-broadcast-every", o.BroadcastEvery.String(),
		"-flood-every", o.FloodEvery.String(),
		"-flood-burst", strconv.Itoa(o.FloodBurst),
		"-flood-size", strconv.Itoa(o.FloodSize),
	}, o.Log)
	if err != nil {
		return nil, err
	}
	procs = append(procs, server)
	addr, err := server.expect(ctx, "listening ", 30*time.Second, o.Log)
	if err != nil {
		return nil, err
	}
	base := "http://" + addr
	logf("server on %s; %d connections from %d client processes", addr, o.Conns, o.Procs)

	clients := make([]*proc, o.Procs)
	per := (o.Conns + o.Procs - 1) / o.Procs
	for p := range o.Procs {
		first := p * per
		n := min(per, o.Conns-first)
		c, err := startProc(fmt.Sprintf("client%d", p), clientBin, []string{
			"-url", "ws://" + addr + "/ws",
			"-proc", strconv.Itoa(p),
			"-first", strconv.Itoa(first),
			"-n", strconv.Itoa(n),
			"-src", fmt.Sprintf("127.0.0.%d", 2+p%250),
			"-rooms", strconv.Itoa(o.Rooms),
			"-rooms-per-conn", strconv.Itoa(o.RoomsPerConn),
			"-pub-every", o.PubEvery.String(),
			"-slow-every", "100",
			"-flood-fast-every", strconv.Itoa(o.FloodFastEvery),
			"-churn-every", max(0, o.ChurnEvery).String(),
			"-churn-conn-every", strconv.Itoa(o.ChurnConnEvery),
		}, o.Log)
		if err != nil {
			return nil, err
		}
		procs = append(procs, c)
		clients[p] = c
	}
	connectWait := time.Minute + time.Duration(o.Conns)*10*time.Millisecond
	for _, c := range clients {
		if _, err := c.expect(ctx, "ready ", connectWait, o.Log); err != nil {
			return nil, err
		}
	}
	if err := waitStatus(ctx, base, 30*time.Second, func(st status) bool { return st.Connections == o.Conns && st.Live == o.Conns }); err != nil {
		return nil, fmt.Errorf("after every client was ready: %w", err)
	}
	logf("%d connections up", o.Conns)

	if err := post(ctx, base+"/control/start"); err != nil {
		return nil, err
	}
	for _, c := range clients {
		if err := c.send("go"); err != nil {
			return nil, err
		}
	}
	logf("traffic for %v", o.Duration)
	end := time.Now().Add(o.Duration)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(10*time.Second, time.Until(end))):
		}
		for _, p := range procs {
			select {
			case <-p.exited:
				return nil, fmt.Errorf("%s exited during the run (%v); stderr:\n%s", p.name, p.err, p.stderrTail())
			default:
			}
		}
		if st, err := getStatus(ctx, base); err == nil {
			logf("connections %d, accepted %d, dropped %d", st.Connections, st.Stats.Accepted, st.Stats.Dropped)
		}
	}

	logf("stopping")
	if err := post(ctx, base+"/control/stop"); err != nil {
		return nil, err
	}
	for _, c := range clients {
		if err := c.send("stop"); err != nil {
			return nil, err
		}
	}
	// A churned connection's close reaches the server just after the
	// client has seen it; wait until every goodbye's close has.
	if err := waitStatus(ctx, base, 3*time.Minute, func(st status) bool { return st.Fenced && st.CleanLeaves == st.Goodbyes }); err != nil {
		return nil, fmt.Errorf("waiting for the fence and the churned connections' closes: %w", err)
	}
	var rep ServerReport
	if err := getJSON(ctx, base+"/control/report", 3*time.Minute, &rep); err != nil {
		return nil, fmt.Errorf("server report: %w", err)
	}
	for _, c := range clients {
		line, err := c.expect(ctx, "report ", 3*time.Minute, o.Log)
		if err != nil {
			return nil, err
		}
		var cr ClientReport
		if err := json.Unmarshal([]byte(line), &cr); err != nil {
			return nil, fmt.Errorf("%s report: %w", c.name, err)
		}
		sum.Clients = append(sum.Clients, cr)
	}
	logf("reports in; closing the connections")

	for _, c := range clients {
		if err := c.send("quit"); err != nil {
			return nil, err
		}
	}
	for _, c := range clients {
		if _, err := c.expect(ctx, "bye", time.Minute, o.Log); err != nil {
			sum.fail("%v", err)
		}
		if err := c.wait(30 * time.Second); err != nil {
			sum.fail("%s: %v", c.name, err)
		}
	}
	if err := waitStatus(ctx, base, 30*time.Second, func(st status) bool { return st.Connections == 0 }); err != nil {
		sum.fail("after the clients closed: %v", err)
	}
	server.cmd.Process.Signal(os.Interrupt)
	if line, err := server.expect(ctx, "shutdown ", 30*time.Second, o.Log); err != nil {
		sum.fail("%v", err)
	} else if !strings.HasPrefix(line, "err=<nil>") {
		sum.fail("server shutdown: %s", line)
	}
	if err := server.wait(30 * time.Second); err != nil {
		sum.fail("server: %v", err)
	}
	procs = nil
	sum.Elapsed = time.Since(t0)

	sum.check(rep)
	if len(sum.Failures) > 0 {
		return sum, fmt.Errorf("soak failed:\n  %s", strings.Join(sum.Failures, "\n  "))
	}
	return sum, nil
}

func (s *Summary) fail(format string, args ...any) {
	s.Failures = append(s.Failures, fmt.Sprintf(format, args...))
}

// incarnation names one connection incarnation: index and generation.
type incarnation struct{ idx, gen int }

func (i incarnation) String() string { return ConnID(i.idx, i.gen) }

// check reconciles the server's and the clients' counters, per connection
// incarnation.
func (s *Summary) check(rep ServerReport) {
	o := s.Options
	received := make(map[incarnation]ClientConn, o.Conns)
	for _, cr := range s.Clients {
		for _, c := range cr.Conns {
			received[incarnation{c.Idx, c.Gen}] = c
		}
		s.Reconnects += cr.Reconnects
		s.Pubs += cr.Pubs
		s.Joins += cr.Joins
		s.Leaves += cr.Leaves
		s.Delivered += cr.Received
		s.OutOfOrder += cr.OutOfOrder + cr.RoomOrder
		s.Pauses += cr.Pauses
		if cr.OutOfOrder+cr.RoomOrder+cr.BadPayload+cr.ConnErrors > 0 {
			s.fail("client %d: %d out of order (sender), %d out of order (room), %d bad payloads, %d connection errors; first: %q",
				cr.Proc, cr.OutOfOrder, cr.RoomOrder, cr.BadPayload, cr.ConnErrors, cr.FirstErrors)
		}
	}
	seen := make(map[incarnation]bool, o.Conns)
	var sumExpected uint64
	for _, c := range rep.Conns {
		key := incarnation{c.Idx, c.Gen}
		seen[key] = true
		sumExpected += c.Expected
		s.Dropped += c.Dropped
		switch {
		case c.Idx%100 == 0:
			s.SlowDropped += c.Dropped
		case c.Idx%o.FloodFastEvery == o.FloodFastEvery/2:
			s.FloodFastDropped += c.Dropped
		default:
			s.OtherDropped += c.Dropped
		}
		r, ok := received[key]
		switch {
		case !ok:
			s.Mismatched++
			s.fail("connection %v: on the server, in no client's report", key)
		case !r.Fenced:
			s.Mismatched++
			s.fail("connection %v: no fence (left %v)", key, r.Left)
		case r.Left != c.Left:
			s.Mismatched++
			s.fail("connection %v: left cleanly on the client %v, on the server %v", key, r.Left, c.Left)
		case r.Received+c.Dropped != c.Expected:
			s.Mismatched++
			if s.Mismatched <= 10 {
				s.fail("connection %v: expected %d, received %d + dropped %d (left %v)", key, c.Expected, r.Received, c.Dropped, c.Left)
			}
		}
	}
	for key := range received {
		if !seen[key] {
			s.fail("connection %v: in a client's report, unknown to the server", key)
		}
	}
	s.Expected = sumExpected
	s.Lost = int64(s.Expected) - int64(s.Delivered) - int64(s.Dropped)
	if want := o.Conns + int(s.Reconnects); len(rep.Conns) != want {
		s.fail("server saw %d connections, want %d (%d + %d churn reconnects)", len(rep.Conns), want, o.Conns, s.Reconnects)
	}
	if s.Lost != 0 {
		s.fail("lost %d messages (expected %d, delivered %d, dropped by policy %d)", s.Lost, s.Expected, s.Delivered, s.Dropped)
	}
	if sumExpected != rep.Expected {
		s.fail("server: per-connection expected sum %d != total %d", sumExpected, rep.Expected)
	}
	if s.Dropped != rep.Stats.Dropped || rep.HookCalls != rep.Stats.Dropped {
		s.fail("drops: connections %d, Stats().Dropped %d, OnSlowConsumer calls %d: must agree", s.Dropped, rep.Stats.Dropped, rep.HookCalls)
	}
	if s.Pubs != rep.Pubs || s.Joins != rep.Joins || s.Leaves != rep.Leaves {
		s.fail("clients sent %d publishes, %d joins, %d leaves; the server handled %d, %d, %d", s.Pubs, s.Joins, s.Leaves, rep.Pubs, rep.Joins, rep.Leaves)
	}
	if rep.Disconnects != 0 || rep.Unsound != 0 || rep.FenceErrors != 0 || rep.JoinErrors != 0 || rep.Stats.Panics != 0 {
		s.fail("server: %d disconnects during the run, %d broadcasts while connections changed, %d fence errors, %d bad joins or publishes, %d panics",
			rep.Disconnects, rep.Unsound, rep.FenceErrors, rep.JoinErrors, rep.Stats.Panics)
	}
	if want := uint64(o.Conns) + s.Reconnects; rep.Stats.Accepted != want {
		s.fail("server accepted %d handshakes, want %d (%d + %d churn reconnects)", rep.Stats.Accepted, want, o.Conns, s.Reconnects)
	}
	if rep.Goodbyes != s.Reconnects || rep.CleanLeaves != s.Reconnects {
		s.fail("churn: clients reconnected %d times; the server handled %d goodbyes and %d clean leaves", s.Reconnects, rep.Goodbyes, rep.CleanLeaves)
	}
	for i := range o.Conns {
		if o.ChurnEvery > 0 && i%100 != 0 && i%o.FloodFastEvery != o.FloodFastEvery/2 && i%o.ChurnConnEvery == o.ChurnConnEvery/2 {
			s.Churners++ // the clients' rule
		}
	}
	// Churn must have happened, or the clean-leave accounting proves nothing.
	if o.ChurnEvery > 0 && s.Reconnects == 0 {
		s.fail("churn was on (%d churning connections, every %v) but no connection reconnected", s.Churners, o.ChurnEvery)
	}
	// The policy must have had work, or "dropped" proves nothing.
	if s.Dropped == 0 {
		s.fail("the slow-consumer policy dropped nothing: the run did not exercise it (%d pauses)", s.Pauses)
	}
	if s.Pubs == 0 || rep.Broadcasts == 0 || rep.FloodMsgs == 0 || s.Leaves == 0 {
		s.fail("some traffic did not happen: %d publishes, %d broadcasts, %d flood messages, %d leaves", s.Pubs, rep.Broadcasts, rep.FloodMsgs, s.Leaves)
	}
	if o.Conns >= 100 {
		s.SlowConns = (o.Conns + 99) / 100 // every 100th connection, from 0
	}

	s.memory(rep.Samples)
	rep.Conns, rep.Samples = nil, nil
	s.Server = rep
}

// memory checks the server's samples against the bound.
func (s *Summary) memory(samples []MemSample) {
	o := s.Options
	s.Samples = len(samples)
	for i := range 8 {
		if len(samples) > 0 {
			s.Trend = append(s.Trend, samples[i*(len(samples)-1)/7])
		}
	}
	var after int
	for _, m := range samples {
		s.MaxGoroutines = max(s.MaxGoroutines, m.Goroutines)
		s.MaxInuse = max(s.MaxInuse, m.HeapInuse)
		if m.T <= o.Warmup.Seconds() {
			s.WarmRSS = max(s.WarmRSS, m.RSS)
			s.WarmLive = max(s.WarmLive, m.HeapLive)
			continue
		}
		after++
		s.MaxRSS = max(s.MaxRSS, m.RSS)
		s.MaxLive = max(s.MaxLive, m.HeapLive)
	}
	if s.WarmRSS == 0 || after < 3 {
		s.fail("memory: %d samples in the warm-up and %d after: too few to judge", len(samples)-after, after)
		return
	}
	if bound := uint64(float64(s.WarmRSS)*o.RSSFactor) + o.RSSSlack; s.MaxRSS > bound {
		s.fail("memory: server RSS grew to %s after the warm-up (warm-up max %s, bound %s)", mib(s.MaxRSS), mib(s.WarmRSS), mib(bound))
	}
	if bound := uint64(float64(s.WarmLive)*o.HeapFactor) + o.HeapSlack; s.MaxLive > bound {
		s.fail("memory: server live heap grew to %s after the warm-up (warm-up max %s, bound %s)", mib(s.MaxLive), mib(s.WarmLive), mib(bound))
	}
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// String is the summary printed at the end of a run.
func (s *Summary) String() string {
	var b strings.Builder
	o := s.Options
	st := s.Server.Stats
	verdict := "PASS"
	if len(s.Failures) > 0 {
		verdict = fmt.Sprintf("FAIL (%d checks)", len(s.Failures))
	}
	w := func(k string, format string, args ...any) {
		fmt.Fprintf(&b, "  %-34s %s\n", k, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(&b, "soak summary: %s\n", verdict)
	w("connections", "%d (%d client processes, %d slow readers), server accepted %d", o.Conns, o.Procs, s.SlowConns, st.Accepted)
	w("traffic phase", "%v (whole run %v)", o.Duration, s.Elapsed.Round(time.Second))
	w("rooms", "%d (+ flood room), %d per connection", o.Rooms, o.RoomsPerConn)
	w("room joins / leaves", "%d / %d", s.Joins, s.Leaves)
	w("client messages relayed to rooms", "%d", s.Pubs)
	w("server broadcasts", "%d", s.Server.Broadcasts)
	w("server flood messages", "%d (bursts of %d to the flood room)", s.Server.FloodMsgs, o.FloodBurst)
	w("fences", "%d", s.Server.Fences)
	w("deliveries expected", "%d", s.Expected)
	w("delivered (counted by clients)", "%d", s.Delivered)
	w("dropped by policy", "%d (Stats().Dropped %d, OnSlowConsumer calls %d)", s.Dropped, st.Dropped, s.Server.HookCalls)
	w("  on slow readers (paused)", "%d", s.SlowDropped)
	w("  on fast readers of flood bursts", "%d", s.FloodFastDropped)
	w("  on the other connections", "%d", s.OtherDropped)
	w("lost", "%d", s.Lost)
	w("connections not reconciled", "%d", s.Mismatched)
	w("duplicates or out of order", "%d", s.OutOfOrder)
	w("slow reader pauses", "%d", s.Pauses)
	churn := "churn off"
	if o.ChurnEvery > 0 {
		churn = fmt.Sprintf("%d churning connections, every %v", s.Churners, o.ChurnEvery)
	}
	w("churn reconnects", "%d (%s; server goodbyes %d, clean leaves %d)", s.Reconnects, churn, s.Server.Goodbyes, s.Server.CleanLeaves)
	w("disconnects during the run", "%d unexpected (panics %d)", s.Server.Disconnects, st.Panics)
	w("server RSS", "warm-up max %s, after max %s", mib(s.WarmRSS), mib(s.MaxRSS))
	w("server live heap", "warm-up max %s, after max %s (heap in use max %s)", mib(s.WarmLive), mib(s.MaxLive), mib(s.MaxInuse))
	w("server goroutines (max)", "%d (%d samples)", s.MaxGoroutines, s.Samples)
	var trend []string
	for _, m := range s.Trend {
		trend = append(trend, fmt.Sprintf("%.0fs %.0f/%.0f/%.0f", m.T, float64(m.RSS)/(1<<20), float64(m.HeapInuse)/(1<<20), float64(m.HeapLive)/(1<<20)))
	}
	w("server MiB over time (RSS/heap/live)", "%s", strings.Join(trend, ", "))
	for _, f := range s.Failures {
		fmt.Fprintf(&b, "  FAILED: %s\n", f)
	}
	return b.String()
}

func goBuild(ctx context.Context, out, pkg string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

type status struct {
	Connections int    `json:"connections"`
	Live        int    `json:"live"`
	Dones       uint64 `json:"dones"`
	Goodbyes    uint64 `json:"goodbyes"`
	CleanLeaves uint64 `json:"clean_leaves"`
	Fenced      bool   `json:"fenced"`
	Stats       struct {
		Accepted uint64
		Dropped  uint64
	} `json:"stats"`
}

func getStatus(ctx context.Context, base string) (status, error) {
	var st status
	err := getJSON(ctx, base+"/control/status", 10*time.Second, &st)
	return st, err
}

func waitStatus(ctx context.Context, base string, timeout time.Duration, ok func(status) bool) error {
	deadline := time.Now().Add(timeout)
	var last status
	for time.Now().Before(deadline) {
		st, err := getStatus(ctx, base)
		if err == nil && ok(st) {
			return nil
		}
		last = st
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server status %+v after %v", last, timeout)
}

func post(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

func getJSON(ctx context.Context, url string, timeout time.Duration, v any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.Join(fmt.Errorf("GET %s", url), err)
	}
	return nil
}
