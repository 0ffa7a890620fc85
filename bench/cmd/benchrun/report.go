package main

import (
	"context"
	"fmt"
	"image/color"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// ratios of wsevents against peer in a case: throughput (higher is better
// for wsevents) and server CPU per message (lower is better).
func ratios(ws, peer *Stat) (thr, cpu float64) {
	if ws == nil || peer == nil || peer.Rate == 0 || peer.CPUPerMsg == 0 {
		return 0, 0
	}
	return ws.Rate / peer.Rate, ws.CPUPerMsg / peer.CPUPerMsg
}

func status(s *Stat) string {
	if s.Runs == 0 {
		return "not run"
	}
	if s.Failed == 0 {
		return fmt.Sprintf("ok ×%d", s.Runs)
	}
	what := []string{}
	if s.Lost > 0 {
		what = append(what, fmt.Sprintf("%d lost", s.Lost))
	}
	if s.Dup > 0 {
		what = append(what, fmt.Sprintf("%d duplicated", s.Dup))
	}
	if len(what) == 0 {
		what = append(what, s.FirstError)
	}
	return fmt.Sprintf("**FAIL** %d/%d runs (%s)", s.Failed, s.Runs, strings.Join(what, ", "))
}

type profileNote struct {
	Case   Case
	Beaten string // which peers beat wsevents, and by how much
	File   string
	Top    string
	Err    string
}

func renderMarkdown(env Env, cases []Case, sum map[string]map[string]*Stat, profiles []profileNote, idle *IdleResults, allocs *AllocResults) string {
	var at *allocsTable
	if allocs != nil {
		at = allocs.table()
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# wsevents against its peers\n\n")
	w("- **Date**: %s\n- **Machine**: %s (shared; load average at the end %s)\n- **Go**: %s\n", env.Date, env.Machine, env.Load, env.GoVersion)
	w("- **Preset**: `%s`: %d repetitions (interleaved) of %s warm-up + %s measured per run; medians; %s in all\n", env.Preset, env.Reps, env.Warmup, env.Duration, env.Elapsed)
	w("- **Method**: one server process per run (`taskset -c 0`, `GOMAXPROCS=1`), one load generator (`bench/cmd/loadgen`, `taskset -c 1`, `GOMAXPROCS=1`; 2 in the fixed-rate case, see there) " +
		"writing pre-encoded masked frames in each peer's format; every reply/delivery is checked and a run with loss or duplication fails. " +
		"Server CPU = utime+stime of the server process over the measured window, divided by the messages delivered in it.\n")
	w("- **Ratios** are wsevents ÷ peer: throughput above 1 and CPU per message below 1 favour wsevents.\n\n")
	w("Both processes share a 2-core machine with other work, so absolute figures move from run to run; compare within one run. " +
		"Where the server's CPU use is below 1.0 the load generator (one core) was the limit, and CPU per message is the better measure.\n\n")

	w("## Goals of issue 6\n\n")
	w("| goal | measured | met |\n| --- | --- | --- |\n")
	for _, g := range goals(cases, sum, idle, at) {
		w("| %s | %s | %s |\n", g.goal, g.measured, g.met)
	}
	limited, echoes := 0, 0
	for _, c := range cases {
		if c.Scenario != "echo" {
			continue
		}
		for _, l := range c.Libs {
			if st := sum[c.ID()][l]; st != nil && st.Runs > 0 {
				echoes++
				if st.CPUUtil < 0.9 {
					limited++
				}
			}
		}
	}
	w("\nIn %d of %d echo results the server used less than 0.9 of its core: there the load generator (one core, as many syscalls "+
		"per message as the server) or other work on the machine was the limit, and throughput says little. Server CPU per message "+
		"is the figure that tells the servers apart; the throughput goals are reported as measured.\n\n", limited, echoes)

	for _, c := range cases {
		m := sum[c.ID()]
		ws := m["wsevents"]
		w("## %s\n\n", c.Title())
		switch c.Scenario {
		case "rooms":
			inflight := "one message"
			if c.Inflight != 1 {
				inflight = fmt.Sprintf("%d messages", c.Inflight)
			}
			w("Every connection is a member of the room its path names (`/rooms/<room>`); a message goes to every member of the sender's room, "+
				"the sender included. Each room has %s in flight (%d in all), sent by its members in turn; msg/s counts deliveries "+
				"(%d per message), each checked once and in order per member. How each library does rooms: `bench/README.md`.\n\n",
				inflight, c.Inflight*c.Rooms, c.Conns/max(c.Rooms, 1))
		case "latency":
			renderLatency(w, c, m)
			continue
		}
		w("| library | msg/s | server CPU µs/msg | server CPU use | wsevents × throughput | wsevents ÷ CPU/msg | runs |\n")
		w("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for _, l := range c.Libs {
			if isAdapter(l) {
				continue
			}
			s := m[l]
			tr, cr := "—", "—"
			if l != "wsevents" && ws != nil {
				if t, cp := ratios(ws, s); t > 0 {
					tr, cr = fmt.Sprintf("%.2f", t), fmt.Sprintf("%.2f", cp)
				}
			}
			name := l
			if l == "wsevents" {
				name = "**wsevents**"
			}
			w("| %s | %.0f | %.2f | %.2f | %s | %s | %s |\n", name, s.Rate, s.CPUPerMsg/1e3, s.CPUUtil, tr, cr, status(s))
		}
		w("\n")
		renderAdapters(w, c, m)
	}

	renderIdle(w, idle)

	w("## Where wsevents loses: CPU profiles\n\n")
	w("Cases where a peer beats wsevents by more than 5%% on throughput or server CPU per message, or a broadcast misses the "+
		"0.7× gws goal, are run once more (%s measured) with `benchserver -cpuprofile`; the top 15 functions by own and by "+
		"cumulative time follow. The profile files are next to this report (`go tool pprof -top <file>` needs no binary).\n\n", "≥ 3s")
	if len(profiles) == 0 {
		w("No such case (or profiling was off).\n\n")
	}
	for _, p := range profiles {
		w("### %s\n\nMissed: %s. Profile of the wsevents server in this case: `%s`", p.Case.Title(), p.Beaten, p.File)
		if p.Err != "" {
			w(" (failed: %s)\n\n", p.Err)
			continue
		}
		w(".\n\n```\n%s```\n\n", p.Top)
	}

	if at != nil {
		renderAllocs(w, at)
	}

	w("## Not measured by this suite (yet)\n\n")
	if idle == nil {
		w("Idle memory at 15,000 connections (`make idle`); ")
	}
	if allocs == nil {
		w("allocations per message (`-preset allocs`); ")
	}
	w("socket.io (Node). Allocations of each kind of emit on its own (EmitRaw, Emit of a value, broadcast from the server) are the core's `make bench-core` (`core/bench_test.go`).\n")
	return b.String()
}

// renderAdapters: wsevents over the framework adapters in case c, as
// multiples of wsevents over net/http (they are variants of wsevents, not
// peers: the ratios above stay against the peers).
func renderAdapters(w func(string, ...any), c Case, m map[string]*Stat) {
	var libs []string
	for _, l := range c.Libs {
		if isAdapter(l) && m[l] != nil {
			libs = append(libs, l)
		}
	}
	if len(libs) == 0 {
		return
	}
	ws := m["wsevents"]
	if ws == nil || ws.Runs == 0 {
		ws = &Stat{}
	}
	w("wsevents over the framework adapters (the same wsevents servers mounted with `wsgin.Handler`, `wsecho.Handler`, `wsiris.Handler` "+
		"on a bare Gin, Echo or Iris router) and on its raw-listener path (serve: `Server.Serve` on the listener, no net/http server), as multiples of **wsevents over net/http** above (%.0f msg/s, %.2f µs/msg):\n\n", ws.Rate, ws.CPUPerMsg/1e3)
	w("| wsevents over | msg/s | server CPU µs/msg | server CPU use | throughput × wsevents over net/http | CPU/msg × wsevents over net/http | runs |\n")
	w("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, l := range libs {
		s := m[l]
		tr, cr := "—", "—"
		if ws.Rate > 0 && ws.CPUPerMsg > 0 {
			tr, cr = fmt.Sprintf("%.2f", s.Rate/ws.Rate), fmt.Sprintf("%.2f", s.CPUPerMsg/ws.CPUPerMsg)
		}
		w("| %s | %.0f | %.2f | %.2f | %s | %s | %s |\n", strings.TrimPrefix(l, "wsevents-"), s.Rate, s.CPUPerMsg/1e3, s.CPUUtil, tr, cr, status(s))
	}
	w("\n")
}

// renderLatency: the percentiles of a fixed-rate case.
func renderLatency(w func(string, ...any), c Case, m map[string]*Stat) {
	w("Open loop: the load generator sends %s msg/s in all on a fixed schedule (message g due at g ÷ rate, on connection g mod %d), "+
		"whatever the replies; each reply's latency runs from the time its message was **due**, not from when it was sent, so a stall "+
		"of the server or of the sender counts in full for every message held up behind it (no coordinated omission). The sender is a "+
		"thread of its own sleeping in `clock_nanosleep` until each due time; its lateness (sent − due) is the load generator's own share "+
		"of the figures (or the server's back-pressure, should a write block) and is shown apart. Percentiles over the measured window, then the median of each over the repetitions. Every "+
		"reply is checked; a lost or duplicated one fails the run.\n\n", thou(c.Rate), c.Conns)
	ws := m["wsevents"]
	w("| library | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | sender late p50 / p99 µs | server CPU µs/msg | server CPU use | wsevents ÷ p50 | wsevents ÷ p99 | runs |\n")
	w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, l := range c.Libs {
		s := m[l]
		if s == nil || isAdapter(l) {
			continue
		}
		name := l
		if l == "wsevents" {
			name = "**wsevents**"
		}
		L := s.Latency
		if L == nil {
			w("| %s | — | — | — | — | — | — | %.2f | %.2f | — | — | %s |\n", name, s.CPUPerMsg/1e3, s.CPUUtil, status(s))
			continue
		}
		r50, r99 := "—", "—"
		if l != "wsevents" && ws != nil && ws.Latency != nil && L.P50 > 0 && L.P99 > 0 {
			r50, r99 = fmt.Sprintf("%.2f", ws.Latency.P50/L.P50), fmt.Sprintf("%.2f", ws.Latency.P99/L.P99)
		}
		w("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f / %.0f | %.2f | %.2f | %s | %s | %s |\n", name, L.P50, L.P90, L.P99, L.P999, L.Max,
			L.SendP50, L.SendP99, s.CPUPerMsg/1e3, s.CPUUtil, r50, r99, status(s))
	}
	w("\n")
}

type goalRow struct{ goal, measured, met string }

func findCase(cases []Case, scenario, format string, size, conns int, inflight ...int) (Case, bool) {
	for _, c := range cases {
		if len(inflight) > 0 && c.Inflight != inflight[0] {
			continue
		}
		if c.Scenario == scenario && c.Format == format && c.Size == size && c.Conns == conns {
			return c, true
		}
	}
	return Case{}, false
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func goals(cases []Case, sum map[string]map[string]*Stat, idle *IdleResults, allocs *allocsTable) []goalRow {
	var rows []goalRow
	if c, ok := findCase(cases, "echo", "native", 64, 100); ok {
		m := sum[c.ID()]
		for _, g := range []struct {
			peer string
			min  float64
		}{{"gws", 1.0}, {"neffos", 1.7}} {
			if m["wsevents"] == nil || m[g.peer] == nil {
				continue
			}
			t, cp := ratios(m["wsevents"], m[g.peer])
			rows = append(rows, goalRow{
				fmt.Sprintf("echo native 64 B, 100 conns: throughput ≥ %.1f× %s", g.min, g.peer),
				fmt.Sprintf("%.2f× (server CPU/msg %.2f×)", t, cp),
				yesNo(t >= g.min),
			})
		}
	}
	cn, ok1 := findCase(cases, "echo", "native", 64, 100)
	ce, ok2 := findCase(cases, "echo", "events", 64, 100)
	if ok1 && ok2 {
		for _, lib := range []string{"wsevents", "neffos"} {
			n, e := sum[cn.ID()][lib], sum[ce.ID()][lib]
			if n == nil || e == nil || n.CPUPerMsg == 0 {
				continue
			}
			extra := e.CPUPerMsg/n.CPUPerMsg - 1
			g := goalRow{
				fmt.Sprintf("event echo costs ≤ 10%% more than native echo (%s, 64 B, 100 conns, server CPU/msg)", lib),
				fmt.Sprintf("%+.1f%% (%.2f vs %.2f µs/msg)", extra*100, e.CPUPerMsg/1e3, n.CPUPerMsg/1e3),
				yesNo(extra <= 0.10),
			}
			if lib != "wsevents" {
				g.goal = "(for comparison) " + g.goal
				g.met = "—"
			}
			rows = append(rows, g)
		}
	}
	if c, ok := findCase(cases, "broadcast", "native", 64, 1000, 16); ok {
		m := sum[c.ID()]
		if m["wsevents"] != nil && m["gws"] != nil {
			_, cp := ratios(m["wsevents"], m["gws"])
			rows = append(rows, goalRow{"broadcast to 1,000, 16 in flight (native): server CPU/delivery ≤ 0.7× gws", fmt.Sprintf("%.2f×", cp), yesNo(cp <= 0.7)})
		}
		if ce, ok := findCase(cases, "broadcast", "events", 64, 1000, 16); ok && m["gws"] != nil && sum[ce.ID()]["wsevents"] != nil {
			_, cp := ratios(sum[ce.ID()]["wsevents"], m["gws"])
			rows = append(rows, goalRow{"broadcast to 1,000 (wsevents events vs gws native): server CPU/delivery ≤ 0.7× gws", fmt.Sprintf("%.2f×", cp), yesNo(cp <= 0.7)})
		}
	}
	if c, ok := findCase(cases, "broadcast", "native", 64, 1000, 1); ok {
		m := sum[c.ID()]
		if m["wsevents"] != nil && m["gws"] != nil {
			_, cp := ratios(m["wsevents"], m["gws"])
			rows = append(rows, goalRow{"(same, one broadcast at a time: one frame per socket) server CPU/delivery ≤ 0.7× gws", fmt.Sprintf("%.2f×", cp), yesNo(cp <= 0.7)})
		}
	}
	if c, ok := findCase(cases, "broadcast", "native", 64, 10000, 16); ok && sum[c.ID()]["wsevents"] != nil && sum[c.ID()]["gws"] != nil {
		_, cp := ratios(sum[c.ID()]["wsevents"], sum[c.ID()]["gws"])
		rows = append(rows, goalRow{"broadcast to 10,000, 16 in flight (native): server CPU/delivery ≤ 0.7× gws", fmt.Sprintf("%.2f×", cp), yesNo(cp <= 0.7)})
	} else {
		rows = append(rows, goalRow{"broadcast to 10,000: CPU/delivery ≤ 0.7× gws", "not measured", "open"})
	}
	if c, ok := findCase(cases, "broadcast", "native", 64, 10000, 1); ok && sum[c.ID()]["wsevents"] != nil && sum[c.ID()]["gws"] != nil {
		_, cp := ratios(sum[c.ID()]["wsevents"], sum[c.ID()]["gws"])
		rows = append(rows, goalRow{"(same, one broadcast at a time) server CPU/delivery ≤ 0.7× gws", fmt.Sprintf("%.2f×", cp), yesNo(cp <= 0.7)})
	}
	// Loss.
	var lossy []string
	wsLoss := false
	for _, c := range cases {
		for _, l := range c.Libs {
			if s := sum[c.ID()][l]; s != nil && s.Failed > 0 {
				name := c.Short()
				if !strings.HasPrefix(name, c.Scenario) {
					name = c.Scenario + " " + name
				}
				lossy = append(lossy, fmt.Sprintf("%s in %s", l, name))
				if l == "wsevents" || isAdapter(l) {
					wsLoss = true
				}
			}
		}
	}
	meas := "no run failed"
	if len(lossy) > 0 {
		meas = "failed runs: " + strings.Join(lossy, "; ")
	}
	rows = append(rows, goalRow{"zero loss (wsevents); peers that lose are reported", meas, yesNo(!wsLoss)})
	rows = append(rows, idleGoal(idle))
	if allocs != nil {
		rows = append(rows, allocGoal(allocs))
	}
	return rows
}

// beatenBy says which peers beat wsevents in case c (m: its medians) by
// more than 5% on throughput or CPU per message, and whether a broadcast
// misses the 0.7× gws goal.
func beatenBy(c Case, m map[string]*Stat) []string {
	ws := m["wsevents"]
	var beaten []string
	for _, l := range c.Libs {
		if l == "wsevents" || isAdapter(l) {
			continue
		}
		t, cp := ratios(ws, m[l])
		if t == 0 || m[l].Failed > 0 {
			continue
		}
		var why []string
		// At a fixed offered rate throughput says nothing.
		if t < 0.95 && c.Scenario != "latency" {
			why = append(why, fmt.Sprintf("throughput %.2f×", t))
		}
		if cp > 1.05 {
			why = append(why, fmt.Sprintf("CPU/msg %.2f×", cp))
		}
		if len(why) > 0 {
			beaten = append(beaten, fmt.Sprintf("%s (%s)", l, strings.Join(why, ", ")))
		}
	}
	// The broadcast goal: CPU per delivery at most 0.7x gws's.
	if c.Scenario == "broadcast" && m["gws"] != nil {
		if _, cp := ratios(ws, m["gws"]); cp > 0.7 {
			beaten = append(beaten, fmt.Sprintf("the goal of ≤ 0.7× gws's CPU per delivery (%.2f×)", cp))
		}
	}
	return beaten
}

// profilesOnDisk rebuilds the profile notes of earlier results (a
// results.json written before it kept them) from the profile-*.txt files
// next to it.
func profilesOnDisk(cases []Case, sum map[string]map[string]*Stat, out string) []profileNote {
	var notes []profileNote
	for _, c := range cases {
		m := sum[c.ID()]
		if ws := m["wsevents"]; ws == nil || ws.Runs == 0 {
			continue
		}
		beaten := beatenBy(c, m)
		if len(beaten) == 0 {
			continue
		}
		top, err := os.ReadFile(filepath.Join(out, "profile-"+c.ID()+".txt"))
		if err != nil {
			continue
		}
		notes = append(notes, profileNote{Case: c, Beaten: strings.Join(beaten, "; "), File: "profile-" + c.ID() + ".pprof", Top: string(top)})
	}
	return notes
}

// profileLosses runs wsevents once more with a CPU profile in every case
// where a peer beats it by more than 5% on throughput or CPU per message.
func (r *runner) profileLosses(ctx context.Context, cases []Case, sum map[string]map[string]*Stat, out string) []profileNote {
	var notes []profileNote
	for _, c := range cases {
		m := sum[c.ID()]
		ws := m["wsevents"]
		if ws == nil || ws.Runs == 0 {
			continue
		}
		beaten := beatenBy(c, m)
		if len(beaten) == 0 {
			continue
		}
		file := filepath.Join(out, "profile-"+c.ID()+".pprof")
		note := profileNote{Case: c, Beaten: strings.Join(beaten, "; "), File: filepath.Base(file)}
		abs, _ := filepath.Abs(file)
		pr := *r
		pr.duration = max(r.duration, 3*time.Second)
		log.Printf("benchrun: profiling wsevents in %s", c.ID())
		if _, err := pr.run(ctx, c, "wsevents", abs); err != nil {
			note.Err = err.Error()
			notes = append(notes, note)
			continue
		}
		var outb []byte
		for _, sort := range []string{"-flat", "-cum"} {
			cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", sort, "-nodecount=15", filepath.Join(r.bindir, "benchserver"), abs)
			cmd.Env = append(os.Environ(), "GOWORK=off")
			b, err := cmd.Output()
			if err != nil {
				note.Err = err.Error()
			}
			if sort == "-cum" {
				// The header repeats: keep the table.
				if i := strings.Index(string(b), "      flat"); i >= 0 {
					b = append([]byte("\nsorted by cumulative time:\n"), b[i:]...)
				}
			}
			outb = append(outb, b...)
		}
		note.Top = string(outb)
		os.WriteFile(strings.TrimSuffix(file, ".pprof")+".txt", outb, 0o644)
		notes = append(notes, note)
	}
	return notes
}

// Chart: four panels. Top: echo (native cases, then event cases)
// throughput and server CPU per message; bottom: the same for broadcast.
var libColors = map[string]color.RGBA{
	"wsevents":     {0xd6, 0x27, 0x28, 0xff},
	"gws":          {0x1f, 0x77, 0xb4, 0xff},
	"gorilla":      {0x2c, 0xa0, 0x2c, 0xff},
	"coder":        {0x94, 0x67, 0xbd, 0xff},
	"gobwas-naive": {0x8c, 0x56, 0x4b, 0xff},
	"melody":       {0xe3, 0x77, 0xc2, 0xff},
	"neffos":       {0x7f, 0x7f, 0x7f, 0xff},
	"neffos-sync":  {0xbc, 0xbd, 0x22, 0xff},
}

var libOrder = []string{"wsevents", "gws", "gorilla", "coder", "gobwas-naive", "melody", "neffos", "neffos-sync"}

func barPanel(title, ylabel string, cases []Case, sum map[string]map[string]*Stat, value func(*Stat) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	var libs []string
	for _, l := range libOrder {
		for _, c := range cases {
			if slices.Contains(c.Libs, l) && !slices.Contains(libs, l) {
				libs = append(libs, l)
			}
		}
	}
	w := vg.Points(7)
	top := 0.0
	for i, l := range libs {
		vals := make(plotter.Values, len(cases))
		failed := false
		for j, c := range cases {
			if s := sum[c.ID()][l]; s != nil {
				vals[j] = value(s)
				top = max(top, vals[j])
				failed = failed || s.Failed > 0
			}
		}
		bc, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bc.Color = libColors[l]
		bc.LineStyle.Width = 0
		bc.Offset = vg.Length(float64(i)-float64(len(libs)-1)/2) * w
		p.Add(bc)
		name := l
		if failed {
			name += " (lost messages)"
		}
		p.Legend.Add(name, bc)
	}
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.Short()
	}
	p.NominalX(names...)
	p.Y.Max = top * 1.45 // room for the legend above the bars
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	p.Legend.ThumbnailWidth = vg.Points(8)
	p.Add(plotter.NewGrid())
	return p, nil
}

func drawChart(base string, env Env, cases []Case, sum map[string]map[string]*Stat, idle *IdleResults) error {
	var echoCases, bcastCases, latCases []Case
	for _, c := range cases {
		switch c.Scenario {
		case "echo":
			echoCases = append(echoCases, c)
		case "latency":
			latCases = append(latCases, c)
		default:
			bcastCases = append(bcastCases, c)
		}
	}
	rate := func(s *Stat) float64 { return s.Rate / 1e3 }
	cpu := func(s *Stat) float64 { return s.CPUPerMsg / 1e3 }
	var rows [][]*plot.Plot
	for _, set := range []struct {
		name  string
		cases []Case
	}{{"Echo", echoCases}, {"Broadcast and rooms", bcastCases}} {
		if len(set.cases) == 0 {
			continue
		}
		a, err := barPanel(set.name+": throughput (median)", "k msg/s", set.cases, sum, rate)
		if err != nil {
			return err
		}
		b, err := barPanel(set.name+": server CPU per delivered message", "µs / msg (lower is better)", set.cases, sum, cpu)
		if err != nil {
			return err
		}
		rows = append(rows, []*plot.Plot{a, b})
	}
	for _, c := range latCases {
		a, b, err := latencyPanels(c, sum)
		if err != nil {
			return err
		}
		rows = append(rows, []*plot.Plot{a, b})
	}
	if idle != nil && len(idle.Runs) > 0 {
		a, b, err := idlePanels(idle)
		if err != nil {
			return err
		}
		rows = append(rows, []*plot.Plot{a, b})
	}
	if len(rows) == 0 {
		return nil
	}
	width, height := 30*vg.Centimeter, vg.Length(len(rows))*11*vg.Centimeter+vg.Centimeter
	render := func(c draw.Canvas) {
		top := draw.Crop(c, 0, 0, vg.Centimeter, 0)
		foot := c
		sty := draw.TextStyle{Color: color.Black, Font: plot.DefaultFont, Handler: plot.DefaultTextHandler}
		sty.Font.Size = vg.Points(8)
		foot.FillText(sty, vg.Point{X: foot.Min.X + vg.Millimeter*3, Y: foot.Min.Y + vg.Millimeter*3},
			fmt.Sprintf("%s · %s · %s · preset %s, median of %d · server taskset -c 0, loadgen -c 1, GOMAXPROCS=1 (loadgen 2 at a fixed rate) · \"ev\" = event messages%s",
				env.Date, env.Machine, env.GoVersion, env.Preset, env.Reps, idleFoot(idle)))
		tiles := draw.Tiles{Rows: len(rows), Cols: 2, PadX: vg.Centimeter, PadY: vg.Centimeter,
			PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
		cs := plot.Align(rows, tiles, top)
		for i := range rows {
			for j := range rows[i] {
				rows[i][j].Draw(cs[i][j])
			}
		}
	}
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	render(dc)
	f, err := os.Create(base + ".png")
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	f.Close()
	svg := vgsvg.New(width, height)
	render(draw.New(svg))
	g, err := os.Create(base + ".svg")
	if err != nil {
		return err
	}
	defer g.Close()
	_, err = svg.WriteTo(g)
	return err
}

// latencyPanels: the percentiles of a fixed-rate case by library, p50 on
// the left, p99 and p99.9 on the right (their scales differ).
func latencyPanels(c Case, sum map[string]map[string]*Stat) (*plot.Plot, *plot.Plot, error) {
	m := sum[c.ID()]
	var libs []string
	for _, l := range libOrder {
		if s := m[l]; s != nil && s.Latency != nil && slices.Contains(c.Libs, l) {
			libs = append(libs, l)
		}
	}
	panel := func(title string, groups []string, val func(*Latency) []float64) (*plot.Plot, error) {
		p := plot.New()
		p.Title.Text = title
		p.Y.Label.Text = "µs from the due time (lower is better)"
		w := vg.Points(9)
		top := 0.0
		for i, l := range libs {
			vals := plotter.Values(val(m[l].Latency))
			for _, v := range vals {
				top = max(top, v)
			}
			bc, err := plotter.NewBarChart(vals, w)
			if err != nil {
				return nil, err
			}
			bc.Color = libColors[l]
			bc.LineStyle.Width = 0
			bc.Offset = vg.Length(float64(i)-float64(len(libs)-1)/2) * w
			p.Add(bc)
			name := l
			if m[l].Failed > 0 {
				name += " (lost messages)"
			}
			p.Legend.Add(name, bc)
		}
		p.NominalX(groups...)
		p.Y.Min = 0
		p.Y.Max = max(top, 1) * 1.45
		p.Legend.Top = true
		p.Legend.Left = false
		p.Legend.TextStyle.Font.Size = vg.Points(8)
		p.Legend.ThumbnailWidth = vg.Points(8)
		p.Add(plotter.NewGrid())
		return p, nil
	}
	title := fmt.Sprintf("Fixed-rate echo (%s msg/s, %d conns): ", thou(c.Rate), c.Conns)
	a, err := panel(title+"median", []string{"p50"}, func(l *Latency) []float64 { return []float64{l.P50} })
	if err != nil {
		return nil, nil, err
	}
	b, err := panel(title+"p99, p99.9", []string{"p99", "p99.9"}, func(l *Latency) []float64 { return []float64{l.P99, l.P999} })
	if err != nil {
		return nil, nil, err
	}
	return a, b, nil
}
