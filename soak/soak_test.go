package soak

import (
	"context"
	"testing"
	"time"
)

// TestSoakShort is the short soak `make test` runs: 1,000 connections from
// two client processes for 20 seconds, every 10th connection churning
// (clean leave and reconnect) about every 5 s. Under -race the server is built
// with the race detector too (the clients never are: they are the load).
// `make soak` runs the long one (cmd/soak).
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	o := Options{
		Conns:      1000,
		Procs:      2,
		Duration:   20 * time.Second,
		Warmup:     6 * time.Second,
		RaceServer: raceEnabled,
		Log:        testWriter{t},
	}
	if raceEnabled {
		// The race detector's shadow memory grows with the heap it
		// watches; the bound is about leaks, not about its overhead.
		o.RSSFactor = 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sum, err := Run(ctx, o)
	if sum != nil {
		t.Log("\n" + sum.String())
	}
	if err != nil {
		t.Fatal(err)
	}
}

// testWriter logs each write as one test log line.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-min(1, len(p))]))
	return len(p), nil
}
