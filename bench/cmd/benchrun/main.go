// Command benchrun drives the peer benchmarks: for every case and library
// it starts benchserver pinned to CPU 0 and loadgen pinned to CPU 1 (both
// GOMAXPROCS=1), repeats each run, takes medians, and writes
// results/results.md (with ratios of wsevents against each peer),
// results/results.json (every run) and results/chart.png/.svg.
//
//	go run ./cmd/benchrun -preset short      # about 15 minutes
//	go run ./cmd/benchrun -preset full       # all sizes and connection counts, idle memory, allocations
//	go run ./cmd/benchrun -preset idle       # idle memory only
//	go run ./cmd/benchrun -preset allocs     # allocations per message only (allocs.go)
//	go run ./cmd/benchrun -render            # results.md and the chart again from results.json
//	go run ./cmd/benchrun -preset short -cases rooms -libs wsevents,gws -out /tmp/b   # iterate on some cases
//
// The cases are loadgen's scenarios: echo, broadcast (1,000 and 10,000
// receivers, 16 or 1 in flight), rooms (100 rooms × 100 members) and
// latency (echo at a fixed offered rate, p50 to max). wsevents over the
// Gin, Echo and Iris adapters runs in the echo cases of 100 connections and
// in idle memory, reported against wsevents over net/http, not as a peer.
//
// With -preset full, and alone with -preset idle, the idle memory scenario
// runs too (idle.go): 15,000 idle connections per fresh server, process RSS,
// Go heap and stacks and goroutines per connection after a forced GC, the
// kernel's memory apart. A preset keeps from the previous results.json the
// part it does not run; -preset idle -libs L replaces the idle runs of L only.
// The allocation benchmarks (allocs.go) run with -preset short, full and
// allocs, unless -cases or -libs narrows the run.
//
// Repetitions are interleaved (rep 1 of every case and library, then rep 2,
// ...) so that load from other processes spreads over all libraries. With
// -profile, every case where wsevents is beaten by a peer (throughput or
// server CPU per message) is run once more with a CPU profile of the
// wsevents server, and the top functions go to results/profile-*.txt.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/wsevents/wsevents/bench/internal/peers"
)

// Case is one measured configuration; Libs are the libraries run in it.
type Case struct {
	Scenario string // echo, broadcast, rooms, latency
	Format   string // native, wsevents (events), neffos (events)
	Conns    int    // rooms: members of all rooms together
	Size     int
	Inflight int     // broadcast: in all; rooms: per room
	Rooms    int     // rooms
	Rate     float64 // latency: offered messages per second in all
	// Reps, when set, caps the repetitions of this case below the
	// preset's (the 10,000-connection cases cost most of a short run).
	Reps int
	// Duration, when set, replaces the preset's measured window per run:
	// the short preset's second is too short for the echo goals, which
	// are within a few percent of the line.
	Duration time.Duration
	Libs     []string
}

func (c Case) ID() string {
	s := fmt.Sprintf("%s-%s-%dB-%dc", c.Scenario, c.Format, c.Size, c.Conns)
	switch c.Scenario {
	case "broadcast":
		s += fmt.Sprintf("-%dif", c.Inflight)
	case "rooms":
		s += fmt.Sprintf("-%dr-%dif", c.Rooms, c.Inflight)
	case "latency":
		s += fmt.Sprintf("-%.0fps", c.Rate)
	}
	return s
}

func (c Case) mode() string {
	if c.Format != "native" {
		return "events"
	}
	return "native"
}

// Title is the case as the tables show it.
func (c Case) Title() string {
	switch c.Scenario {
	case "broadcast":
		return fmt.Sprintf("broadcast %s, %d B, %s receivers, %d in flight", c.mode(), c.Size, thou(float64(c.Conns)), c.Inflight)
	case "rooms":
		return fmt.Sprintf("rooms %s, %d B, %d rooms × %d members, %d in flight per room", c.mode(), c.Size, c.Rooms, c.Conns/max(c.Rooms, 1), c.Inflight)
	case "latency":
		return fmt.Sprintf("fixed-rate echo %s, %d B, %d conns, %s msg/s offered", c.mode(), c.Size, c.Conns, thou(c.Rate))
	}
	conns := "conns"
	if c.Conns == 1 {
		conns = "conn"
	}
	t := fmt.Sprintf("echo %s, %d B, %d %s, one message in flight per connection", c.mode(), c.Size, c.Conns, conns)
	if c.Duration > 0 {
		t += fmt.Sprintf(" (%v measured per run)", c.Duration)
	}
	return t
}

// Short is the case as chart labels show it.
func (c Case) Short() string {
	size := fmt.Sprintf("%dB", c.Size)
	if c.Size == 1024 {
		size = "1KiB"
	}
	mode := ""
	if c.Format != "native" {
		mode = " ev"
	}
	switch c.Scenario {
	case "broadcast": // receivers and in flight; the size only when not 64 B
		s := fmt.Sprintf("%dk/%dif%s", c.Conns/1000, c.Inflight, mode)
		if c.Size != 64 {
			s = size + "/" + s
		}
		return s
	case "rooms":
		return "rooms" + mode
	case "latency":
		return fmt.Sprintf("%s/%dc@%.0fk/s%s", size, c.Conns, c.Rate/1000, mode)
	}
	return fmt.Sprintf("%s/%dc%s", size, c.Conns, mode)
}

// adapterLibs are wsevents on Gin, Echo and Iris: variants of wsevents
// (the same servers behind another router), not peers. They run in the
// echo cases of 100 connections and in idle memory, and are reported
// against wsevents over net/http. wsevents-serve is wsevents on its
// raw-listener path (Server.Serve). The peers are in internal/peers.
var adapterLibs = []string{"wsevents-gin", "wsevents-echo", "wsevents-iris", "wsevents-serve"}

// isAdapter reports whether lib is wsevents over a framework adapter.
func isAdapter(lib string) bool { return slices.Contains(adapterLibs, lib) }

type preset struct {
	cases            []Case
	idle             *IdleConfig // nil: not run
	allocs           int         // counts of the allocation benchmarks; 0: not run
	reps             int
	warmup, duration time.Duration
}

func presets(name string) (preset, error) {
	// The echo cases of 100 connections also run wsevents over the
	// framework adapters.
	withAdapters := func(c Case) Case {
		if c.Conns == 100 {
			c.Libs = append(slices.Clone(c.Libs), adapterLibs...)
		}
		return c
	}
	echo := func(size, conns int) Case {
		return withAdapters(Case{Scenario: "echo", Format: "native", Conns: conns, Size: size, Libs: peers.Native})
	}
	echoEv := func(size, conns int) Case {
		return withAdapters(Case{Scenario: "echo", Format: "events", Conns: conns, Size: size, Libs: peers.EventEcho})
	}
	bcast := Case{Scenario: "broadcast", Format: "native", Conns: 1000, Size: 64, Inflight: 16, Libs: peers.NativeBroadcast}
	bcastEv := Case{Scenario: "broadcast", Format: "events", Conns: 1000, Size: 64, Inflight: 16, Libs: peers.EventBroadcast}
	// One broadcast at a time: no coalescing of frames per connection.
	bcast1 := bcast
	bcast1.Inflight = 1
	// 10,000 receivers in one load generator (20,000 open files per process).
	bcast10k := bcast
	bcast10k.Conns = 10000
	// ... one broadcast at a time: the fan-out's latency.
	bcast10k1 := bcast10k
	bcast10k1.Inflight = 1
	// 100 rooms × 100 members (10,000 connections), one message in flight
	// per room (100 in all), each sent by the room's members in turn.
	rooms := Case{Scenario: "rooms", Format: "native", Conns: 10000, Size: 64, Inflight: 1, Rooms: 100, Libs: peers.NativeBroadcast}
	roomsEv := rooms
	roomsEv.Format, roomsEv.Libs = "events", peers.EventBroadcast
	// Echo at a fixed offered rate, far below every library's saturation
	// (40,000 msg/s and more at 100 connections here).
	latency := Case{Scenario: "latency", Format: "native", Conns: 100, Size: 64, Rate: 10000, Libs: peers.Native}
	switch name {
	case "short":
		few := func(c Case, reps int) Case { c.Reps = reps; return c }
		longer := func(c Case) Case { c.Duration = 3 * time.Second; return c }
		return preset{
			cases: []Case{echo(64, 1), longer(echo(64, 100)), echo(64, 1000), echo(1024, 100), longer(echoEv(64, 100)), bcast, bcastEv, bcast1, bcast10k,
				few(bcast10k1, 3), few(rooms, 1), few(roomsEv, 1), few(latency, 2)},
			reps:     3,
			allocs:   3,
			warmup:   500 * time.Millisecond,
			duration: time.Second,
		}, nil
	case "full":
		var cs []Case
		for _, size := range []int{64, 1024} {
			for _, n := range []int{1, 10, 100, 1000} {
				cs = append(cs, echo(size, n))
			}
		}
		for _, size := range []int{64, 1024} {
			for _, n := range []int{1, 10, 100, 1000} {
				cs = append(cs, echoEv(size, n))
			}
		}
		bcastEv1 := bcastEv
		bcastEv1.Inflight = 1
		cs = append(cs, bcast, bcastEv, bcast1, bcastEv1, bcast10k, bcast10k1, rooms, roomsEv, latency)
		return preset{cases: cs, reps: 5, warmup: time.Second, duration: 3 * time.Second, idle: defaultIdle(), allocs: 5}, nil
	case "idle":
		return preset{idle: defaultIdle()}, nil
	case "allocs":
		return preset{allocs: 5}, nil
	}
	return preset{}, fmt.Errorf("unknown preset %q (short, full, idle, allocs)", name)
}

// repsOf is the number of repetitions of c in a preset of reps.
func repsOf(c Case, reps int) int {
	if c.Reps > 0 {
		return min(c.Reps, reps)
	}
	return reps
}

// Run is one loadgen result (its JSON) plus where it ran.
type Run struct {
	Case       string   `json:"case"`
	Lib        string   `json:"lib"`
	Rep        int      `json:"rep"`
	Msgs       uint64   `json:"msgs"`
	Elapsed    float64  `json:"elapsed_s"`
	Rate       float64  `json:"rate"`
	ServerCPU  float64  `json:"server_cpu_s"`
	CPUPerMsg  float64  `json:"cpu_ns_per_msg"`
	CPUUtil    float64  `json:"server_cpu_util"`
	Sent       uint64   `json:"sent"`
	Delivered  uint64   `json:"delivered"`
	Lost       uint64   `json:"lost"`
	Duplicated uint64   `json:"duplicated"`
	Latency    *Latency `json:"latency,omitempty"`
	Errors     []string `json:"errors,omitempty"`
	OK         bool     `json:"ok"`
}

// Latency is loadgen's result of the latency scenario (µs).
type Latency struct {
	Rate    float64 `json:"rate"`
	Samples int     `json:"samples"`
	P50     float64 `json:"p50_us"`
	P90     float64 `json:"p90_us"`
	P99     float64 `json:"p99_us"`
	P999    float64 `json:"p999_us"`
	Max     float64 `json:"max_us"`
	Mean    float64 `json:"mean_us"`
	SendP50 float64 `json:"send_late_p50_us"`
	SendP99 float64 `json:"send_late_p99_us"`
	SendMax float64 `json:"send_late_max_us"`
}

type runner struct {
	bindir           string
	warmup, duration time.Duration
	port             int
	verbose          bool
}

func main() {
	presetName := flag.String("preset", "short", "short, full, idle (idle memory only; the other results are kept) or allocs (the allocation benchmarks only; the same)")
	reps := flag.Int("reps", 0, "repetitions (0: the preset's)")
	out := flag.String("out", "results", "output `directory`")
	only := flag.String("libs", "", "comma-separated libraries to run (default all)")
	onlyCases := flag.String("cases", "", "comma-separated parts of case IDs: run only the cases whose ID contains one (e.g. rooms,latency,10000c-1if); the runs of other cases and libraries in a previous results.json of the same preset are kept")
	bindir := flag.String("bindir", "", "directory with prebuilt benchserver and loadgen (default: build them)")
	profile := flag.Bool("profile", true, "profile the wsevents server in the cases it loses")
	port := flag.Int("port", 19200, "first port of the servers")
	verbose := flag.Bool("v", false, "print every run")
	render := flag.Bool("render", false, "run nothing: write results.md and the chart again from the output directory's results.json")
	flag.Parse()
	log.SetFlags(0)

	p, err := presets(*presetName)
	if err != nil {
		log.Fatal(err)
	}
	if *render {
		if *onlyCases != "" || *only != "" {
			log.Fatal("benchrun: -render runs nothing: it takes no -cases or -libs")
		}
		p = preset{}
	}
	if *only != "" && *presetName == "allocs" {
		log.Fatal("benchrun: -libs does not narrow the allocation benchmarks (they run every library in one test binary); run -preset allocs without it")
	}
	if *reps > 0 {
		p.reps = *reps
		if p.idle != nil {
			p.idle.Reps = *reps
		}
		if p.allocs > 0 {
			p.allocs = *reps
		}
	}
	if *onlyCases != "" {
		parts := strings.Split(*onlyCases, ",")
		p.cases = slices.DeleteFunc(p.cases, func(c Case) bool {
			return !slices.ContainsFunc(parts, func(s string) bool { return strings.Contains(c.ID(), s) })
		})
		if len(p.cases) == 0 {
			log.Fatalf("benchrun: -cases %q matches no case of preset %s", *onlyCases, *presetName)
		}
		p.idle = nil // idle memory is -preset idle
		p.allocs = 0 // and allocations -preset allocs
	}
	if *only != "" {
		keep := strings.Split(*only, ",")
		for i := range p.cases {
			p.cases[i].Libs = slices.DeleteFunc(slices.Clone(p.cases[i].Libs), func(l string) bool { return !slices.Contains(keep, l) })
		}
		if p.idle != nil {
			p.idle.Libs = slices.DeleteFunc(p.idle.Libs, func(l string) bool { return !slices.Contains(keep, l) })
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	// Pinned runs need benchserver and loadgen, taskset and two cores; the
	// allocation benchmarks (a test binary of their own) and -render do not.
	pinned := len(p.cases) > 0 || p.idle != nil
	if *bindir == "" && pinned {
		dir, err := os.MkdirTemp("", "benchrun")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		if err := build(ctx, dir); err != nil {
			log.Fatal(err)
		}
		*bindir = dir
	}
	r := &runner{bindir: *bindir, warmup: p.warmup, duration: p.duration, port: *port, verbose: *verbose}
	if pinned {
		if err := r.checkCores(); err != nil {
			log.Fatal(err)
		}
	}

	total := 0
	for _, c := range p.cases {
		total += len(c.Libs) * repsOf(c, p.reps)
	}
	start := time.Now()
	var runs []Run
	if len(p.cases) > 0 {
		log.Printf("benchrun: preset %s, %d cases, %d runs of %v+%v", *presetName, len(p.cases), total, p.warmup, p.duration)
	}
	done := 0
	for rep := 1; rep <= p.reps && len(p.cases) > 0; rep++ {
		for _, c := range p.cases {
			if rep > repsOf(c, p.reps) {
				continue
			}
			for _, lib := range c.Libs {
				if ctx.Err() != nil {
					log.Fatal("interrupted")
				}
				run, err := r.run(ctx, c, lib, "")
				done++
				if err != nil {
					log.Printf("[%d/%d] %s %s: %v", done, total, c.ID(), lib, err)
				}
				run.Rep = rep
				runs = append(runs, run)
				if r.verbose || !run.OK {
					log.Printf("[%d/%d] rep %d %-14s %-36s %9.0f msg/s %8.2f µs/msg cpu %.2f ok=%v %s", done, total, rep, lib, c.ID(),
						run.Rate, run.CPUPerMsg/1e3, run.CPUUtil, run.OK, strings.Join(run.Errors, "; "))
				}
			}
		}
		log.Printf("benchrun: repetition %d/%d done (%v)", rep, p.reps, time.Since(start).Round(time.Second))
	}

	// The previous results: the part this preset does not run is kept
	// (throughput cases for -preset idle, idle memory for -preset short).
	prev, err := readResults(filepath.Join(*out, "results.json"))
	if err != nil && *render {
		log.Fatalf("benchrun: -render: %v", err)
	}
	res := resultsFile{}
	cases := p.cases
	var profiles []profileNote
	if len(p.cases) > 0 {
		sum := summarize(p.cases, runs)
		env := environment()
		env.Preset, env.Reps, env.Warmup, env.Duration = *presetName, p.reps, p.warmup.String(), p.duration.String()
		env.Elapsed = time.Since(start).Round(time.Second).String()
		res.Env, res.Runs = env, runs
		if *profile {
			profiles = r.profileLosses(ctx, p.cases, sum, *out)
		}
		if *onlyCases != "" && prev != nil && prev.Env.Preset == *presetName {
			// Keep the previous runs of the (case, library) pairs not run,
			// and the profiles of the cases not run.
			ran, ranLib := map[string]bool{}, map[[2]string]bool{}
			for _, c := range p.cases {
				ran[c.ID()] = true
				for _, l := range c.Libs {
					ranLib[[2]string{c.ID(), l}] = true
				}
			}
			for _, run := range prev.Runs {
				if !ranLib[[2]string{run.Case, run.Lib}] {
					res.Runs = append(res.Runs, run)
				}
			}
			for _, pn := range prev.Profiles {
				if !ran[pn.Case.ID()] {
					profiles = append(profiles, pn)
				}
			}
			res.Env.Elapsed += " (" + *onlyCases + " only; the other cases from " + prev.Env.Date + ")"
			cases = casesOf(&res)
		}
	} else if prev != nil {
		res.Env, res.Runs = prev.Env, prev.Runs
		cases = casesOf(prev)
		profiles = prev.Profiles
		if profiles == nil {
			profiles = profilesOnDisk(cases, summarize(cases, prev.Runs), *out)
		}
	}
	res.Profiles = profiles

	if p.idle != nil {
		res.Idle = r.idleRuns(ctx, p.idle, *presetName)
		if *only != "" && prev != nil && prev.Idle != nil {
			res.Idle.carryOver(prev.Idle)
		}
	} else if prev != nil {
		res.Idle = prev.Idle
	}
	allocsFailed := false
	if p.allocs > 0 && *only == "" {
		a, err := r.allocRuns(ctx, p.allocs, *presetName)
		if err != nil {
			// The runs above are written all the same; the exit status
			// says that this part failed.
			log.Printf("benchrun: %v; the previous allocation results, if any, are kept", err)
			allocsFailed = true
			if prev != nil {
				res.Allocs = prev.Allocs
			}
		} else {
			res.Allocs = a
		}
	} else if prev != nil {
		res.Allocs = prev.Allocs
	}

	if err := writeResults(filepath.Join(*out, "results.json"), res); err != nil {
		log.Fatal(err)
	}
	if res.Allocs != nil {
		if err := os.WriteFile(filepath.Join(*out, "allocs.txt"), []byte(res.Allocs.Raw), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	sum := summarize(cases, res.Runs)
	md := renderMarkdown(res.Env, cases, sum, profiles, res.Idle, res.Allocs)
	if err := os.WriteFile(filepath.Join(*out, "results.md"), []byte(md), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := drawChart(filepath.Join(*out, "chart"), res.Env, cases, sum, res.Idle); err != nil {
		log.Fatal(err)
	}
	fmt.Print(md)
	log.Printf("benchrun: wrote %s/results.md, results.json, chart.png, chart.svg (%v)", *out, time.Since(start).Round(time.Second))
	if allocsFailed {
		os.Exit(1)
	}
}

// idleRuns runs the idle scenario: repetitions interleaved across the
// libraries, a fresh server for each run.
func (r *runner) idleRuns(ctx context.Context, ic *IdleConfig, presetName string) *IdleResults {
	start := time.Now()
	total := ic.Reps * len(ic.Libs)
	log.Printf("benchrun: idle memory, %d connections from %d load generators, %d runs", ic.Conns, ic.Shards, total)
	var runs []IdleRun
	for rep := 1; rep <= ic.Reps; rep++ {
		for _, lib := range ic.Libs {
			if ctx.Err() != nil {
				log.Fatal("interrupted")
			}
			run := r.runIdle(ctx, ic, lib)
			run.Rep = rep
			run.Time = time.Now().UTC().Format("2006-01-02 15:04 UTC")
			runs = append(runs, run)
			log.Printf("[%d/%d] idle rep %d %-14s RSS %6.0f B/conn heap %6.0f stack %6.0f goroutines %.2f kernel slab %6.0f (dial %.1fs settle %.1fs) ok=%v %s",
				len(runs), total, rep, lib, run.RSSPerConn(), run.HeapPerConn(), run.StackPerConn(), run.GoroutinesPerConn(),
				run.SlabPerConn(), run.DialS, run.SettleS, run.OK, strings.Join(run.Errors, "; "))
		}
	}
	env := environment()
	env.Preset, env.Reps = presetName, ic.Reps
	env.Elapsed = time.Since(start).Round(time.Second).String()
	return &IdleResults{Env: env, Conns: ic.Conns, Shards: ic.Shards, Libs: ic.Libs, Runs: runs}
}

// carryOver keeps the runs of prev whose library was not run this time
// (benchrun -preset idle -libs wsevents after a run of every library).
func (ir *IdleResults) carryOver(prev *IdleResults) {
	if prev.Conns != ir.Conns {
		return
	}
	for _, r := range prev.Runs {
		if !slices.Contains(ir.Libs, r.Lib) {
			ir.Runs = append(ir.Runs, r)
		}
	}
	var libs []string
	for _, l := range idleLibs {
		if slices.Contains(ir.Libs, l) || slices.Contains(prev.Libs, l) {
			libs = append(libs, l)
		}
	}
	ir.Libs = libs
}

// IdleResults is the idle part of results.json.
type IdleResults struct {
	Env    Env       `json:"env"`
	Conns  int       `json:"conns"`
	Shards int       `json:"shards"`
	Libs   []string  `json:"libs"`
	Runs   []IdleRun `json:"runs"`
}

// resultsFile is results.json.
type resultsFile struct {
	Env      Env           `json:"env"`
	Runs     []Run         `json:"runs"`
	Profiles []profileNote `json:"profiles,omitempty"`
	Idle     *IdleResults  `json:"idle,omitempty"`
	Allocs   *AllocResults `json:"allocs,omitempty"`
}

func readResults(path string) (*resultsFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f resultsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

func writeResults(path string, f resultsFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// casesOf is the cases of a previous results file: its preset's, each with
// the libraries that ran in it.
func casesOf(f *resultsFile) []Case {
	p, err := presets(f.Env.Preset)
	if err != nil {
		return nil
	}
	ran := map[string][]string{}
	for _, r := range f.Runs {
		if !slices.Contains(ran[r.Case], r.Lib) {
			ran[r.Case] = append(ran[r.Case], r.Lib)
		}
	}
	var cs []Case
	for _, c := range p.cases {
		c.Libs = slices.DeleteFunc(slices.Clone(c.Libs), func(l string) bool { return !slices.Contains(ran[c.ID()], l) })
		if len(c.Libs) > 0 {
			cs = append(cs, c)
		}
	}
	return cs
}

// build compiles benchserver and loadgen into dir. The bench module is
// built on its own (GOWORK=off): its peers never enter the workspace.
func build(ctx context.Context, dir string) error {
	for _, name := range []string{"benchserver", "loadgen"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd.Env = append(os.Environ(), "GOWORK=off")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", name, err)
		}
	}
	return nil
}

func (r *runner) checkCores() error {
	if runtime.NumCPU() < 2 {
		return errors.New("benchrun needs 2 CPUs (server on CPU 0, load generator on CPU 1)")
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return errors.New("benchrun needs taskset (util-linux)")
	}
	return nil
}

// run starts the server, runs loadgen against it and stops the server.
// cpuprofile, when set, is passed to the server.
func (r *runner) run(ctx context.Context, c Case, lib, cpuprofile string) (Run, error) {
	run := Run{Case: c.ID(), Lib: lib}
	srv, err := r.startServer(lib, cpuprofile)
	if err != nil {
		return run, err
	}
	defer srv.stop()
	addr := srv.addr
	dur := r.duration
	if c.Duration > 0 {
		dur = c.Duration
	}
	limit := r.warmup + dur + 2*time.Minute // dialing 10,000, and loadgen's drain of up to 60 s
	lctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	lg := exec.CommandContext(lctx, "taskset", "-c", "1", filepath.Join(r.bindir, "loadgen"),
		"-addr", addr, "-pid", fmt.Sprint(srv.pid), "-label", lib,
		"-scenario", c.Scenario, "-format", peers.Format(lib, c.Format),
		"-conns", fmt.Sprint(c.Conns), "-size", fmt.Sprint(c.Size), "-inflight", fmt.Sprint(max(c.Inflight, 1)),
		"-rooms", fmt.Sprint(max(c.Rooms, 1)), "-rate", fmt.Sprint(c.Rate),
		"-warmup", r.warmup.String(), "-duration", dur.String())
	lg.Env = append(os.Environ(), "GOMAXPROCS=1")
	var stdout, stderr bytes.Buffer
	lg.Stdout, lg.Stderr = &stdout, &stderr
	lerr := lg.Run()
	if err := json.Unmarshal(stdout.Bytes(), &run); err != nil {
		run.Case, run.Lib = c.ID(), lib
		run.Errors = append(run.Errors, fmt.Sprintf("loadgen: %v %s", lerr, strings.TrimSpace(stderr.String())))
		run.OK = false
		return run, nil
	}
	run.Case, run.Lib = c.ID(), lib
	return run, nil
}

// server is a running benchserver.
type server struct {
	addr      string
	debugAddr string // where /debug/ is served: addr, but for wsevents-serve
	pid       int
	cmd       *exec.Cmd
	exited    chan struct{} // closed when the process has exited
	stderr    *bytes.Buffer
}

// startServer starts benchserver for lib pinned to CPU 0 (GOMAXPROCS=1) on
// the next port and waits until it listens; cpuprofile, when set, is passed
// to it.
func (r *runner) startServer(lib, cpuprofile string) (*server, error) {
	r.port++
	if r.port > 19800 {
		r.port = 19201
	}
	addr := fmt.Sprintf("127.0.0.1:%d", r.port)
	args := []string{"-c", "0", filepath.Join(r.bindir, "benchserver"), "-lib", lib, "-addr", addr}
	debugAddr := addr
	if lib == "wsevents-serve" { // its listener is wsevents' alone
		debugAddr = fmt.Sprintf("127.0.0.1:%d", r.port+1000)
		args = append(args, "-debug-addr", debugAddr)
	}
	if cpuprofile != "" {
		args = append(args, "-cpuprofile", cpuprofile)
	}
	cmd := exec.Command("taskset", args...) // taskset execs: the pid is the server's
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	srv := &server{addr: addr, debugAddr: debugAddr, cmd: cmd, exited: make(chan struct{}), stderr: &bytes.Buffer{}}
	cmd.Stderr = srv.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	srv.pid = cmd.Process.Pid
	go func() { cmd.Wait(); close(srv.exited) }()
	err := waitListening(addr, srv.exited)
	if err == nil && debugAddr != addr {
		err = waitListening(debugAddr, srv.exited)
	}
	if err != nil {
		srv.stop()
		return nil, fmt.Errorf("%v: %s", err, srv.stderr.String())
	}
	return srv, nil
}

// stop ends the server with SIGTERM (SIGKILL after 5s) and waits for it.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func waitListening(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("benchserver exited")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("benchserver did not listen within 10s")
}

// Stat is the median of a (case, lib) over its repetitions.
type Stat struct {
	Rate, CPUPerMsg, CPUUtil float64
	Runs, Failed             int
	Lost, Dup                uint64
	FirstError               string
	Latency                  *Latency // latency cases: the median of each figure
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summarize: case ID -> lib -> medians. Runs that failed count in Failed;
// their measurements still enter the medians (a lossy run measured what it
// delivered), and the tables mark them.
func summarize(cases []Case, runs []Run) map[string]map[string]*Stat {
	type acc struct {
		rate, cpu, util []float64
		lat             []*Latency
	}
	accs := map[string]map[string]*acc{}
	out := map[string]map[string]*Stat{}
	for _, c := range cases {
		accs[c.ID()] = map[string]*acc{}
		out[c.ID()] = map[string]*Stat{}
		for _, l := range c.Libs {
			accs[c.ID()][l] = &acc{}
			out[c.ID()][l] = &Stat{}
		}
	}
	for _, r := range runs {
		a, s := accs[r.Case][r.Lib], out[r.Case][r.Lib]
		if a == nil {
			continue
		}
		s.Runs++
		if !r.OK {
			s.Failed++
			s.Lost += r.Lost
			s.Dup += r.Duplicated
			if s.FirstError == "" && len(r.Errors) > 0 {
				s.FirstError = r.Errors[0]
			}
		}
		if r.Msgs > 0 {
			a.rate = append(a.rate, r.Rate)
			a.cpu = append(a.cpu, r.CPUPerMsg)
			a.util = append(a.util, r.CPUUtil)
		}
		if r.Latency != nil && r.Latency.Samples > 0 {
			a.lat = append(a.lat, r.Latency)
		}
	}
	for id, m := range accs {
		for l, a := range m {
			s := out[id][l]
			s.Rate, s.CPUPerMsg, s.CPUUtil = median(a.rate), median(a.cpu), median(a.util)
			s.Latency = medianLatency(a.lat)
		}
	}
	return out
}

// medianLatency is the median of each figure over the runs (nil for none).
func medianLatency(ls []*Latency) *Latency {
	if len(ls) == 0 {
		return nil
	}
	med := func(f func(*Latency) float64) float64 {
		xs := make([]float64, len(ls))
		for i, l := range ls {
			xs[i] = f(l)
		}
		return median(xs)
	}
	return &Latency{
		Rate:    ls[0].Rate,
		Samples: int(med(func(l *Latency) float64 { return float64(l.Samples) })),
		P50:     med(func(l *Latency) float64 { return l.P50 }),
		P90:     med(func(l *Latency) float64 { return l.P90 }),
		P99:     med(func(l *Latency) float64 { return l.P99 }),
		P999:    med(func(l *Latency) float64 { return l.P999 }),
		Max:     med(func(l *Latency) float64 { return l.Max }),
		Mean:    med(func(l *Latency) float64 { return l.Mean }),
		SendP50: med(func(l *Latency) float64 { return l.SendP50 }),
		SendP99: med(func(l *Latency) float64 { return l.SendP99 }),
		SendMax: med(func(l *Latency) float64 { return l.SendMax }),
	}
}

// Env describes the run for the report.
type Env struct {
	Date, Machine, CPU, Kernel, GoVersion string
	Preset                                string
	Reps                                  int
	Warmup, Duration, Elapsed             string
	Load                                  string
}

func environment() Env {
	e := Env{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		e.Load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	e.Machine = fmt.Sprintf("%s, %d CPUs, linux %s", e.CPU, runtime.NumCPU(), e.Kernel)
	return e
}
