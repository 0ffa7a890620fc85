package main

// Allocations per message, side by side: the benchserver's own Go
// benchmarks (cmd/benchserver/allocs_test.go: every library's server as the
// benchserver runs it, in one process with the load generator's client
// code, -benchmem), run -count times. The raw output is kept as
// results/allocs.txt (benchstat's input: `GOWORK=off go tool benchstat -col
// /lib results/allocs.txt` in bench/); the report shows the medians.

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

// AllocResults are the allocation benchmarks of one run of benchrun
// (Env.Reps: the counts). Raw is written out as allocs.txt with the report.
type AllocResults struct {
	Env Env    `json:"env"`
	Raw string `json:"raw"` // go test -bench output, benchstat's format
}

// allocRuns builds the benchserver's test binary and runs each of its
// benchmarks count times in a row, a second each, with GOMAXPROCS=1 as the
// suite's servers have.
func (r *runner) allocRuns(ctx context.Context, count int, presetName string) (*AllocResults, error) {
	dir, err := os.MkdirTemp("", "benchrun-allocs")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "benchserver.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./cmd/benchserver")
	build.Env = append(os.Environ(), "GOWORK=off")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go test -c ./cmd/benchserver: %w", err)
	}
	log.Printf("benchrun: allocation benchmarks, %d counts", count)
	start := time.Now()
	var raw bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-test.run", "^$", "-test.bench", ".", "-test.benchmem",
		"-test.count", fmt.Sprint(count), "-test.benchtime", "1s", "-test.timeout", "60m")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = &raw, os.Stderr
	if err := cmd.Run(); err != nil {
		os.Stderr.Write(raw.Bytes())
		return nil, fmt.Errorf("allocation benchmarks: %w", err)
	}
	env := environment()
	env.Preset, env.Reps = presetName, count
	env.Elapsed = time.Since(start).Round(time.Second).String()
	return &AllocResults{Env: env, Raw: raw.String()}, nil
}

// allocRow is one benchmark's medians per library.
type allocRow struct {
	bench string // Echo/fmt=native, Broadcast/conns=100, ...
	libs  map[string]allocStat
}

type allocStat struct {
	allocs, bytes, perDelivery float64 // medians; perDelivery < 0: not reported
}

// allocsTable is the report's view of AllocResults: rows in the order the
// benchmarks ran, libraries in the order they first appear.
type allocsTable struct {
	a    *AllocResults
	rows []allocRow
	libs []string
	err  error // the raw output could not be read
}

// table parses a's raw output (once per report).
func (a *AllocResults) table() *allocsTable {
	rows, libs, err := parseAllocs(a.Raw)
	return &allocsTable{a: a, rows: rows, libs: libs, err: err}
}

func parseAllocs(raw string) ([]allocRow, []string, error) {
	type key struct{ bench, lib string }
	vals := map[key]map[string][]float64{}
	var order []string
	var libs []string
	rd := benchfmt.NewReader(strings.NewReader(raw), "allocs.txt")
	for rd.Scan() {
		res, ok := rd.Result().(*benchfmt.Result)
		if !ok {
			continue
		}
		base, parts := res.Name.Parts()
		var lib string
		bench := string(base)
		for _, p := range parts {
			s := string(p)
			switch {
			case strings.HasPrefix(s, "/lib="):
				lib = strings.TrimPrefix(s, "/lib=")
			case strings.HasPrefix(s, "/"):
				bench += s
			}
		}
		if lib == "" {
			continue
		}
		if !slices.Contains(order, bench) {
			order = append(order, bench)
		}
		if !slices.Contains(libs, lib) {
			libs = append(libs, lib)
		}
		k := key{bench, lib}
		if vals[k] == nil {
			vals[k] = map[string][]float64{}
		}
		for _, v := range res.Values {
			vals[k][v.Unit] = append(vals[k][v.Unit], v.Value)
		}
	}
	if err := rd.Err(); err != nil {
		return nil, nil, err
	}
	var rows []allocRow
	for _, b := range order {
		row := allocRow{bench: b, libs: map[string]allocStat{}}
		for _, l := range libs {
			v := vals[key{b, l}]
			if v == nil {
				continue
			}
			st := allocStat{allocs: median(v["allocs/op"]), bytes: median(v["B/op"]), perDelivery: -1}
			if d := v["allocs/delivery"]; len(d) > 0 {
				st.perDelivery = median(d)
			}
			row.libs[l] = st
		}
		rows = append(rows, row)
	}
	return rows, libs, nil
}

// allocTitle is a row's label in the report.
func allocTitle(bench string) string {
	switch {
	case bench == "Echo/fmt=native":
		return "echo, 64 B, native: per message"
	case bench == "Echo/fmt=events":
		return "echo, 64 B, events: per message"
	case strings.HasPrefix(bench, "Broadcast/conns="):
		return "broadcast of 64 B to " + strings.TrimPrefix(bench, "Broadcast/conns=") + ": per broadcast"
	}
	return bench
}

// renderAllocs writes the allocation section of the report.
func renderAllocs(w func(string, ...any), t *allocsTable) {
	w("## Allocations per message\n\n")
	a, rows, libs := t.a, t.rows, t.libs
	if t.err != nil {
		w("The allocation benchmarks' output could not be read: %v.\n\n", t.err)
		return
	}
	if len(rows) == 0 {
		w("The allocation benchmarks' output holds no results.\n\n")
		return
	}
	w("%s, %d counts of 1 s each (`go test -bench . -benchmem` of `cmd/benchserver/allocs_test.go`, %s). "+
		"Every library's server as the benchserver builds it (the same handlers; GOMAXPROCS=1, as the suite's servers), in one process with the load generator's client code, which allocates nothing once connected: "+
		"the figures are the server's, its read of the message and its writes of the reply or of the broadcast. "+
		"Medians of allocs/op and B/op; for a broadcast also allocations per delivery (allocs/op ÷ receivers). "+
		"One broadcast at a time, the sender among the receivers. The raw output is `allocs.txt` (`GOWORK=off go tool benchstat -col /lib results/allocs.txt` in `bench/`); "+
		"its times per op are not this suite's speed figures (client and server share both cores there, unpinned).\n\n",
		a.Env.Date, a.Env.Reps, a.Env.Elapsed)
	w("| | %s |\n|---|%s\n", strings.Join(libs, " | "), strings.Repeat("---|", len(libs)))
	for _, r := range rows {
		w("| %s |", allocTitle(r.bench))
		for _, l := range libs {
			st, ok := r.libs[l]
			if !ok {
				w(" |")
				continue
			}
			unit := "allocs"
			if st.allocs == 1 {
				unit = "alloc"
			}
			w(" %s %s, %s B", fmtNum(st.allocs), unit, fmtNum(st.bytes))
			if st.perDelivery >= 0 {
				w(" (%s per delivery)", fmtNum(st.perDelivery))
			}
			w(" |")
		}
		w("\n")
	}
	w("\nwsevents hands each message it receives to its handler as the handler's own copy (`Message.Data` is the handler's to keep, as documented): " +
		"one allocation per message received. Emits and broadcasts themselves are held at zero by `TestHotPathAllocations` (`make test`), which fails on one allocation per call.\n\n")
}

// fmtNum prints a median compactly: integers as such, small fractions with
// three significant digits.
func fmtNum(x float64) string {
	switch {
	case x == float64(int64(x)):
		return fmt.Sprint(int64(x))
	case x < 1:
		return fmt.Sprintf("%.3g", x)
	case x < 100:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.0f", x)
}

// allocGoal is the goal row of allocations: a broadcast allocates nothing
// per recipient when wsevents' allocations per broadcast (allocs per
// delivery × receivers, a fraction from the runtime's counters) grow by
// less than half an allocation from the fewest receivers to the most.
func allocGoal(t *allocsTable) goalRow {
	g := goalRow{goal: "allocations: 0 per recipient of a broadcast (wsevents, allocation benchmarks)", measured: "no broadcast benchmark of wsevents", met: "**no**"}
	if t.err != nil {
		return g
	}
	var parts []string
	var per []float64 // allocations per broadcast, by receivers
	echo := ""
	for _, r := range t.rows {
		st, ok := r.libs["wsevents"]
		if !ok {
			continue
		}
		if r.bench == "Echo/fmt=native" {
			echo = fmtNum(st.allocs)
		}
		n, ok := strings.CutPrefix(r.bench, "Broadcast/conns=")
		conns, err := strconv.Atoi(n)
		if !ok || err != nil || st.perDelivery < 0 {
			continue
		}
		b := st.perDelivery * float64(conns)
		parts = append(parts, fmt.Sprintf("%.2f to %s", b, n))
		per = append(per, b)
	}
	if len(per) < 2 {
		return g
	}
	g.measured = "allocations per broadcast: " + strings.Join(parts, ", ") + " receivers (the triggering message's copy for its handler)"
	if echo != "" {
		g.measured += "; per echoed message: " + echo + " (the same copy)"
	}
	g.met = yesNo(slices.Max(per)-slices.Min(per) < 0.5)
	return g
}
