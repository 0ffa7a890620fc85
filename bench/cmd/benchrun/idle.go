package main

// Scenario (c) of issue 6: idle memory. For each library a fresh server,
// then 15,000 idle connections (handshake done, then silent) opened by
// three load generator processes from 127.0.0.1, .2 and .3; once the server
// holds them all and its RSS has settled, a forced GC (the server's own
// /debug/gc) and the figures per connection: process RSS, Go heap and
// stacks in use, goroutines; the kernel's memory apart.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// IdleConfig is the idle scenario of a preset.
type IdleConfig struct {
	Conns  int
	Shards int // load generator processes, one source address each
	Reps   int
	Libs   []string
}

// idleLibs: the libraries on /echo (native). wsevents runs last in every
// repetition, after its framework adapters (extra rows, reported against
// wsevents over net/http). neffos-sync is left out: it differs from neffos
// only in the broadcaster, which an idle connection never touches.
var idleLibs = []string{"gws", "gorilla", "coder", "gobwas-naive", "melody", "neffos", "wsevents-gin", "wsevents-echo", "wsevents-iris", "wsevents-serve", "wsevents"}

func defaultIdle() *IdleConfig {
	return &IdleConfig{Conns: 15000, Shards: 3, Reps: 3, Libs: slices.Clone(idleLibs)}
}

// memSnap is the server (and the kernel) at one point.
type memSnap struct {
	RSS        uint64 `json:"rss"` // VmRSS, bytes
	Fds        int    `json:"fds"` // open files of the server
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
	SockMem    int64  `json:"sock_mem"` // /proc/net/sockstat TCP mem, bytes (all TCP sockets)
	Slab       int64  `json:"slab"`     // /proc/meminfo Slab, bytes (whole machine)
}

// IdleRun is one idle measurement.
type IdleRun struct {
	Lib     string   `json:"lib"`
	Rep     int      `json:"rep"`
	Time    string   `json:"time"`
	Conns   int      `json:"conns"`
	Before  memSnap  `json:"before"`  // fresh server, after /debug/gc
	Settled uint64   `json:"settled"` // RSS once settled, before the GC
	After   memSnap  `json:"after"`   // with the connections, after /debug/gc
	DialS   float64  `json:"dial_s"`  // slowest shard to open its connections
	SettleS float64  `json:"settle_s"`
	Dropped int      `json:"dropped"` // connections the server closed while held
	Errors  []string `json:"errors,omitempty"`
	OK      bool     `json:"ok"`
}

func (r IdleRun) per(before, after float64) float64 {
	if r.Conns == 0 {
		return 0
	}
	return (after - before) / float64(r.Conns)
}

func (r IdleRun) RSSPerConn() float64 {
	return r.per(float64(r.Before.RSS), float64(r.After.RSS))
}
func (r IdleRun) HeapPerConn() float64 {
	return r.per(float64(r.Before.HeapInuse), float64(r.After.HeapInuse))
}
func (r IdleRun) StackPerConn() float64 {
	return r.per(float64(r.Before.StackInuse), float64(r.After.StackInuse))
}
func (r IdleRun) SysPerConn() float64 { return r.per(float64(r.Before.Sys), float64(r.After.Sys)) }
func (r IdleRun) GoroutinesPerConn() float64 {
	return r.per(float64(r.Before.Goroutines), float64(r.After.Goroutines))
}
func (r IdleRun) SlabPerConn() float64 { return r.per(float64(r.Before.Slab), float64(r.After.Slab)) }
func (r IdleRun) SockMemPerConn() float64 {
	return r.per(float64(r.Before.SockMem), float64(r.After.SockMem))
}

// IdleStat is the median of a library's idle runs (failed runs left out).
type IdleStat struct {
	RSS, Heap, Stack, Sys, Goroutines, Slab, SockMem float64
	Runs, Failed                                     int
	FirstError                                       string
}

func summarizeIdle(runs []IdleRun) map[string]*IdleStat {
	type acc struct{ rss, heap, stack, sys, g, slab, sock []float64 }
	accs := map[string]*acc{}
	out := map[string]*IdleStat{}
	for _, r := range runs {
		a, s := accs[r.Lib], out[r.Lib]
		if a == nil {
			a, s = &acc{}, &IdleStat{}
			accs[r.Lib], out[r.Lib] = a, s
		}
		s.Runs++
		if !r.OK {
			s.Failed++
			if s.FirstError == "" && len(r.Errors) > 0 {
				s.FirstError = r.Errors[0]
			}
			continue
		}
		a.rss = append(a.rss, r.RSSPerConn())
		a.heap = append(a.heap, r.HeapPerConn())
		a.stack = append(a.stack, r.StackPerConn())
		a.sys = append(a.sys, r.SysPerConn())
		a.g = append(a.g, r.GoroutinesPerConn())
		a.slab = append(a.slab, r.SlabPerConn())
		a.sock = append(a.sock, r.SockMemPerConn())
	}
	for l, a := range accs {
		s := out[l]
		s.RSS, s.Heap, s.Stack, s.Sys = median(a.rss), median(a.heap), median(a.stack), median(a.sys)
		s.Goroutines, s.Slab, s.SockMem = median(a.g), median(a.slab), median(a.sock)
	}
	return out
}

// runIdle measures lib once.
func (r *runner) runIdle(ctx context.Context, ic *IdleConfig, lib string) IdleRun {
	run := IdleRun{Lib: lib, Conns: ic.Conns}
	fail := func(format string, a ...any) IdleRun {
		run.Errors = append(run.Errors, fmt.Sprintf(format, a...))
		run.OK = false
		return run
	}
	srv, err := r.startServer(lib, "")
	if err != nil {
		return fail("%v", err)
	}
	defer func() {
		srv.stop()
		// Let the kernel tear the 2×15,000 sockets down before the next
		// server's baseline.
		time.Sleep(time.Second)
	}()
	// Baseline: the first call warms the endpoint's own path up.
	if _, err := debugGC(srv.debugAddr); err != nil {
		return fail("baseline: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if run.Before, err = snapshot(srv); err != nil {
		return fail("baseline: %v", err)
	}

	// The shards: one loadgen per source address, each holding its
	// connections until its stdin closes.
	type shard struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		lines *bufio.Scanner
	}
	var shards []*shard
	defer func() {
		for _, s := range shards {
			s.stdin.Close()
			done := make(chan struct{})
			go func() { s.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				s.cmd.Process.Kill()
				<-done
			}
		}
	}()
	for i := range ic.Shards {
		n := ic.Conns / ic.Shards
		if i < ic.Conns%ic.Shards {
			n++
		}
		cmd := exec.CommandContext(ctx, "taskset", "-c", "1", filepath.Join(r.bindir, "loadgen"),
			"-scenario", "idle", "-format", "native", "-addr", srv.addr,
			"-conns", strconv.Itoa(n), "-bind", fmt.Sprintf("127.0.0.%d", i+1), "-label", lib)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return fail("%v", err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return fail("%v", err)
		}
		if err := cmd.Start(); err != nil {
			return fail("loadgen: %v", err)
		}
		shards = append(shards, &shard{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout)})
	}
	// Each shard's first line says its connections are open.
	type line struct {
		rep IdleReport
		err error
	}
	readLine := func(s *shard, timeout time.Duration) (IdleReport, error) {
		ch := make(chan line, 1)
		go func() {
			var l line
			if s.lines.Scan() {
				l.err = json.Unmarshal(s.lines.Bytes(), &l.rep)
			} else {
				l.err = fmt.Errorf("loadgen exited: %v", s.lines.Err())
			}
			ch <- l
		}()
		select {
		case l := <-ch:
			return l.rep, l.err
		case <-time.After(timeout):
			return IdleReport{}, errors.New("loadgen: no report in time")
		}
	}
	for _, s := range shards {
		rep, err := readLine(s, 3*time.Minute)
		if err != nil {
			return fail("%v", err)
		}
		if !rep.OK {
			return fail("loadgen %s: %s", rep.Bind, strings.Join(rep.Errors, "; "))
		}
		run.DialS = max(run.DialS, rep.DialS)
	}

	// The server holds them all: its open files (less 2: the connection
	// of the baseline's /debug/gc may still have been open then).
	t0 := time.Now()
	want := run.Before.Fds + ic.Conns - 2
	for {
		n, err := countFds(srv.pid)
		if err != nil {
			return fail("%v", err)
		}
		if n >= want {
			break
		}
		if time.Since(t0) > 30*time.Second {
			return fail("server holds %d files, want %d", n, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Its RSS settles: four readings 0.5s apart within 0.5% of the growth
	// (or 256 KiB).
	var last []uint64
	for {
		rss, err := vmRSS(srv.pid)
		if err != nil {
			return fail("%v", err)
		}
		last = append(last, rss)
		if len(last) > 4 {
			last = last[1:]
		}
		if len(last) == 4 {
			lo, hi := slices.Min(last), slices.Max(last)
			tol := max(256<<10, (float64(hi)-float64(run.Before.RSS))*0.005)
			if float64(hi-lo) <= tol {
				break
			}
		}
		if time.Since(t0) > 60*time.Second {
			run.Errors = append(run.Errors, "RSS did not settle within 60s (measured anyway)")
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	run.Settled = last[len(last)-1]
	run.SettleS = time.Since(t0).Seconds()
	if _, err := debugGC(srv.debugAddr); err != nil {
		return fail("%v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if run.After, err = snapshot(srv); err != nil {
		return fail("%v", err)
	}
	if run.After.Fds < want {
		run.Errors = append(run.Errors, fmt.Sprintf("server holds %d files after the GC, want %d", run.After.Fds, want))
	}

	// Release the shards and collect what they saw.
	for _, s := range shards {
		s.stdin.Close()
		rep, err := readLine(s, 30*time.Second)
		if err != nil {
			run.Errors = append(run.Errors, err.Error())
			continue
		}
		run.Dropped += rep.Dropped
		run.Errors = append(run.Errors, rep.Errors...)
	}
	run.OK = len(run.Errors) == 0
	return run
}

// IdleReport is a line of loadgen's idle scenario.
type IdleReport struct {
	Phase   string   `json:"phase"`
	Bind    string   `json:"bind"`
	Conns   int      `json:"conns"`
	DialS   float64  `json:"dial_s"`
	Dropped int      `json:"dropped"`
	Errors  []string `json:"errors"`
	OK      bool     `json:"ok"`
}

// memReport is the answer of benchserver's /debug/gc.
type memReport struct {
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
}

var gcClient = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func debugGC(addr string) (memReport, error) {
	var m memReport
	resp, err := gcClient.Get("http://" + addr + "/debug/gc")
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("/debug/gc: %s", resp.Status)
	}
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// snapshot calls /debug/gc and reads the server's RSS and open files and
// the kernel's socket and slab memory.
func snapshot(srv *server) (memSnap, error) {
	var s memSnap
	m, err := debugGC(srv.debugAddr)
	if err != nil {
		return s, err
	}
	s.HeapInuse, s.StackInuse, s.Sys, s.Goroutines = m.HeapInuse, m.StackInuse, m.Sys, m.Goroutines
	if s.RSS, err = vmRSS(srv.pid); err != nil {
		return s, err
	}
	if s.Fds, err = countFds(srv.pid); err != nil {
		return s, err
	}
	s.SockMem, _ = tcpSockMem()
	s.Slab, _ = meminfo("Slab")
	return s, nil
}

// vmRSS is VmRSS of /proc/<pid>/status, in bytes.
func vmRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseUint(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, errors.New("no VmRSS")
}

func countFds(pid int) (int, error) {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es), err
}

// tcpSockMem is the "mem" of the TCP line of /proc/net/sockstat (pages
// charged to socket buffers, all TCP sockets), in bytes.
func tcpSockMem() (int64, error) {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "TCP:") {
			continue
		}
		f := strings.Fields(l)
		for i := 1; i+1 < len(f); i += 2 {
			if f[i] == "mem" {
				n, err := strconv.ParseInt(f[i+1], 10, 64)
				return n * int64(os.Getpagesize()), err
			}
		}
	}
	return 0, errors.New("no TCP mem in sockstat")
}

// meminfo is a field of /proc/meminfo, in bytes.
func meminfo(field string) (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in meminfo", field)
}

// thou formats x rounded with thousands separators.
func thou(x float64) string {
	n := int64(math.Round(x))
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func idleStatus(s *IdleStat) string {
	if s.Runs == 0 {
		return "not run"
	}
	if s.Failed == 0 {
		return fmt.Sprintf("ok ×%d", s.Runs)
	}
	return fmt.Sprintf("**FAIL** %d/%d runs (%s)", s.Failed, s.Runs, s.FirstError)
}

// idleSpan is the first and last time of the runs.
func idleSpan(ir *IdleResults) string {
	var ts []string
	for _, r := range ir.Runs {
		if r.Time != "" {
			ts = append(ts, r.Time)
		}
	}
	if len(ts) == 0 {
		return ir.Env.Date
	}
	slices.Sort(ts)
	if ts[0] == ts[len(ts)-1] {
		return ts[0]
	}
	return ts[0] + " to " + ts[len(ts)-1]
}

// idleGoalBytes is issue 6's idle goal: 3 KiB of process RSS per connection.
const idleGoalBytes = 3 << 10

func idleGoal(ir *IdleResults) goalRow {
	g := goalRow{"idle memory ≤ 3 KiB process RSS per idle connection at 15,000", "not measured (`make idle`)", "open"}
	if ir == nil {
		return g
	}
	g.goal = fmt.Sprintf("idle memory ≤ 3 KiB process RSS per idle connection at %s", thou(float64(ir.Conns)))
	sum := summarizeIdle(ir.Runs)
	ws := sum["wsevents"]
	if ws == nil || ws.Runs == ws.Failed {
		g.measured = "wsevents: no successful run"
		return g
	}
	var peers []string
	for _, l := range ir.Libs {
		if s := sum[l]; l != "wsevents" && !isAdapter(l) && s != nil && s.Runs > s.Failed {
			peers = append(peers, fmt.Sprintf("%s %.1f", l, s.RSS/1024))
		}
	}
	g.measured = fmt.Sprintf("over net/http: %s B = %.2f KiB per connection (Go heap %s B, stacks %s B, %.2f goroutines)",
		thou(ws.RSS), ws.RSS/1024, thou(ws.Heap), thou(ws.Stack), ws.Goroutines)
	best := ws.RSS
	// The raw-listener path (Server.Serve) is wsevents too: the way to
	// serve the most connections from a port of their own.
	if sv := sum["wsevents-serve"]; sv != nil && sv.Runs > sv.Failed {
		g.measured += fmt.Sprintf("; on its own listener (`Server.Serve`): %s B = %.2f KiB (Go heap %s B)", thou(sv.RSS), sv.RSS/1024, thou(sv.Heap))
		best = min(best, sv.RSS)
	}
	g.measured += "; peers in KiB: " + strings.Join(peers, ", ")
	g.met = yesNo(best <= idleGoalBytes)
	return g
}

func renderIdle(w func(string, ...any), ir *IdleResults) {
	if ir == nil {
		return
	}
	w("## Idle memory: %s idle connections per server process\n\n", thou(float64(ir.Conns)))
	sum := summarizeIdle(ir.Runs)
	w("- **Date**: %s; %s; %s\n", idleSpan(ir), ir.Env.Machine, ir.Env.GoVersion)
	w("- **Method**: per run a fresh server (`taskset -c 0`, `GOMAXPROCS=1`) serving `/echo`; its baseline after a forced GC; then %s connections "+
		"opened by %d load generators (`loadgen -scenario idle`, `taskset -c 1`, one source address each: 127.0.0.1, 127.0.0.2, ...), "+
		"handshake done, then silent (server pings answered); once the server holds them all (its open files) and its RSS has settled, "+
		"a forced GC in the server (`/debug/gc`: `runtime.GC()` + `debug.FreeOSMemory()`, the benchserver's own code, the same for every library). "+
		"Per connection: (after − baseline) ÷ %s of the server's VmRSS (`/proc/<pid>/status`), Go `HeapInuse`, `StackInuse`, `Sys` and goroutines. "+
		"%d repetitions interleaved across libraries (wsevents last in each, after its framework adapters), medians.\n",
		thou(float64(ir.Conns)), ir.Shards, thou(float64(ir.Conns)), ir.Env.Reps)
	w("- **Ratios** are wsevents ÷ peer: below 1 favours wsevents. Goal of issue 6: ≤ 3 KiB (3,072 B) process RSS per connection.\n\n")
	ws := sum["wsevents"]
	okStat := func(s *IdleStat) bool { return s != nil && s.Runs > s.Failed }
	w("| library | process RSS B/conn | KiB/conn | Go heap in use B/conn | Go stacks B/conn | goroutines/conn | Go Sys B/conn | wsevents ÷ RSS | wsevents ÷ heap+stacks | runs |\n")
	w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, l := range ir.Libs {
		s := sum[l]
		if s == nil || isAdapter(l) {
			continue
		}
		name := l
		if l == "wsevents" {
			name = "**wsevents**"
		}
		rr, hr := "—", "—"
		if l != "wsevents" && okStat(ws) && okStat(s) {
			if s.RSS > 0 {
				rr = fmt.Sprintf("%.2f", ws.RSS/s.RSS)
			}
			if s.Heap+s.Stack > 0 {
				hr = fmt.Sprintf("%.2f", (ws.Heap+ws.Stack)/(s.Heap+s.Stack))
			}
		}
		w("| %s | %s | %.2f | %s | %s | %.2f | %s | %s | %s | %s |\n", name, thou(s.RSS), s.RSS/1024, thou(s.Heap), thou(s.Stack),
			s.Goroutines, thou(s.Sys), rr, hr, idleStatus(s))
	}
	var adapters []string
	for _, l := range ir.Libs {
		if s := sum[l]; s != nil && isAdapter(l) {
			adapters = append(adapters, l)
		}
	}
	if len(adapters) > 0 {
		if ws == nil {
			ws = &IdleStat{}
		}
		w("\nwsevents over the framework adapters (the same server on a bare Gin, Echo or Iris router; variants of wsevents, not peers), "+
			"as multiples of **wsevents over net/http** (%s B RSS, %s B heap + stacks per connection):\n\n", thou(ws.RSS), thou(ws.Heap+ws.Stack))
		w("| wsevents over | process RSS B/conn | KiB/conn | Go heap in use B/conn | Go stacks B/conn | goroutines/conn | Go Sys B/conn | RSS × wsevents over net/http | heap+stacks × wsevents over net/http | runs |\n")
		w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for _, l := range adapters {
			s := sum[l]
			rr, hr := "—", "—"
			if okStat(ws) && okStat(s) {
				if ws.RSS > 0 {
					rr = fmt.Sprintf("%.2f", s.RSS/ws.RSS)
				}
				if ws.Heap+ws.Stack > 0 {
					hr = fmt.Sprintf("%.2f", (s.Heap+s.Stack)/(ws.Heap+ws.Stack))
				}
			}
			w("| %s | %s | %.2f | %s | %s | %.2f | %s | %s | %s | %s |\n", strings.TrimPrefix(l, "wsevents-"), thou(s.RSS), s.RSS/1024, thou(s.Heap), thou(s.Stack),
				s.Goroutines, thou(s.Sys), rr, hr, idleStatus(s))
		}
	}
	w("\nKernel memory, apart (not in the process RSS): the growth of the machine's slab memory (`Slab` of `/proc/meminfo`: socket, inode, " +
		"file and epoll structures) and of the TCP socket buffers (`mem` of `/proc/net/sockstat`, pages), per connection. Both ends of each " +
		"loopback connection are counted (the client's sockets are in the same kernel) and the figures are machine-wide, so other work on " +
		"the machine moves them: read them as orders of magnitude.\n\n")
	w("| library | kernel slab B/conn (both ends) | TCP socket buffers B/conn (both ends) |\n| --- | ---: | ---: |\n")
	for _, l := range ir.Libs {
		if s := sum[l]; s != nil {
			w("| %s | %s | %s |\n", l, thou(s.Slab), thou(s.SockMem))
		}
	}
	w("\n")
}

func idleFoot(ir *IdleResults) string {
	if ir == nil || len(ir.Runs) == 0 {
		return ""
	}
	return fmt.Sprintf(" · idle: %s, median of %d", idleSpan(ir), ir.Env.Reps)
}

// idlePanels: memory per idle connection by library (process RSS, Go heap,
// Go stacks, kernel), with the 3 KiB goal; and goroutines per connection.
func idlePanels(ir *IdleResults) (*plot.Plot, *plot.Plot, error) {
	sum := summarizeIdle(ir.Runs)
	var libs []string
	for _, l := range libOrder {
		if s := sum[l]; s != nil && s.Runs > s.Failed {
			libs = append(libs, l)
		}
	}
	groups := []string{"process RSS", "Go heap in use", "Go stacks", "kernel slab (both ends)"}
	val := func(s *IdleStat, g int) float64 {
		return [...]float64{s.RSS, s.Heap, s.Stack, s.Slab}[g] / 1024
	}
	a := plot.New()
	a.Title.Text = fmt.Sprintf("Idle: memory per connection at %s, after GC", thou(float64(ir.Conns)))
	a.Y.Label.Text = "KiB / connection (lower is better)"
	b := plot.New()
	b.Title.Text = "Idle: goroutines per connection"
	b.Y.Label.Text = "goroutines / connection"
	w := vg.Points(9)
	top, gtop := 0.0, 0.0
	for i, l := range libs {
		s := sum[l]
		vals := make(plotter.Values, len(groups))
		for g := range groups {
			vals[g] = max(val(s, g), 0)
			top = max(top, vals[g])
		}
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, nil, err
		}
		bc.Color = libColors[l]
		bc.LineStyle.Width = 0
		bc.Offset = vg.Length(float64(i)-float64(len(libs)-1)/2) * w
		a.Add(bc)
		a.Legend.Add(l, bc)

		gc, err := plotter.NewBarChart(plotter.Values{max(s.Goroutines, 0)}, w*2)
		if err != nil {
			return nil, nil, err
		}
		gtop = max(gtop, s.Goroutines)
		gc.Color = libColors[l]
		gc.LineStyle.Width = 0
		gc.Offset = vg.Length(float64(i)-float64(len(libs)-1)/2) * w * 2
		b.Add(gc)
		b.Legend.Add(l, gc)
	}
	goal, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: idleGoalBytes / 1024.0}, {X: 0.5, Y: idleGoalBytes / 1024.0}})
	if err != nil {
		return nil, nil, err
	}
	goal.LineStyle.Width = vg.Points(1.5)
	goal.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	a.Add(goal)
	a.Legend.Add("goal: 3 KiB RSS", goal)
	a.NominalX(groups...)
	b.NominalX("per idle connection")
	for _, p := range []*plot.Plot{a, b} {
		p.Y.Min = 0
		p.Legend.Top = true
		p.Legend.Left = false
		p.Legend.TextStyle.Font.Size = vg.Points(8)
		p.Legend.ThumbnailWidth = vg.Points(8)
		p.Add(plotter.NewGrid())
	}
	a.Y.Max = max(top, 3) * 1.45
	b.Y.Max = max(gtop, 1) * 1.45
	return a, b, nil
}
