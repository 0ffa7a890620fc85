// Command soak runs the soak test of package soak: one wsevents server
// process and several client processes on loopback, rooms, relayed emits,
// broadcasts, room churn, connection churn (clean leaves and reconnects)
// and slow readers, then checks that every message
// not dropped by the slow-consumer policy arrived exactly once and in
// order, that the counters reconcile, and that the server's memory stayed
// bounded. It prints a summary and exits 1 when a check failed.
//
//	go run ./cmd/soak -conns 10000 -duration 3m   (from soak/; `make soak`)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsevents/wsevents/soak"
)

func main() {
	var o soak.Options
	flag.IntVar(&o.Conns, "conns", 10000, "connections in all")
	flag.IntVar(&o.Procs, "procs", 0, "client processes (0: one per 2,500 connections, at least 2)")
	flag.DurationVar(&o.Duration, "duration", 0, "traffic phase (0: 20s)")
	flag.DurationVar(&o.Warmup, "warmup", 0, "memory baseline window from the traffic start (0: a quarter of -duration)")
	flag.IntVar(&o.Rooms, "rooms", 0, "rooms (0: conns/20)")
	flag.DurationVar(&o.PubEvery, "pub-every", 0, "mean time between one connection's publishes or room changes (0: 5s)")
	flag.DurationVar(&o.ChurnEvery, "churn-every", 0, "mean time between a churning connection's clean leave and reconnect (0: 5s; negative: no churn)")
	flag.IntVar(&o.ChurnConnEvery, "churn-conn-every", 0, "every Nth connection churns (0: 10)")
	flag.BoolVar(&o.RaceServer, "race", false, "build the server with the race detector")
	quiet := flag.Bool("q", false, "print only the summary")
	flag.Parse()
	if !*quiet {
		o.Log = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := soak.Run(ctx, o)
	if sum != nil {
		fmt.Print(sum)
	}
	if err != nil {
		if sum == nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}
