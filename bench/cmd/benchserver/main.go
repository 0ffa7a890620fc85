// Command benchserver is the server side of the peer benchmarks: one
// binary, one library per process, chosen with -lib.
//
// Every library serves, over net/http:
//
//	/echo    native echo: each message is sent back as it came
//	/bcast   native broadcast: each message received is sent to every
//	         connection of /bcast (the sender included)
//
// and the event libraries (wsevents, neffos, neffos-sync) also:
//
//	/events  event "echo" is emitted back as "echo"; event "bcast" is
//	         broadcast as "bcast" to every connection of /events
//
// Each is written the way the library's README or examples show; where this
// departs from them (a buffer size, a dropped rate limiter) a comment says
// why. Compression is off everywhere.
//
//	benchserver -lib gws -addr 127.0.0.1:9100 [-cpuprofile cpu.out]
//
// It stops on SIGINT/SIGTERM (and writes the profile then).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"syscall"
	"time"
)

var libs = map[string]func() http.Handler{
	"wsevents":     wseventsHandler,
	"gws":          gwsHandler,
	"gorilla":      gorillaHandler,
	"coder":        coderHandler,
	"gobwas-naive": gobwasHandler,
	"melody":       melodyHandler,
	"neffos":       func() http.Handler { return neffosHandler(false) },
	"neffos-sync":  func() http.Handler { return neffosHandler(true) },
}

func main() {
	lib := flag.String("lib", "", "library: "+names())
	addr := flag.String("addr", "127.0.0.1:9100", "listen `address`")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `file` (from start to SIGTERM)")
	flag.Parse()
	mk, ok := libs[*lib]
	if !ok {
		fmt.Fprintf(os.Stderr, "benchserver: -lib must be one of %s\n", names())
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hs := &http.Server{Handler: mk(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(os.Stderr, "http: ", 0)}
	go hs.Serve(ln)
	log.Printf("benchserver: %s on %s (pid %d)", *lib, ln.Addr(), os.Getpid())
	<-ctx.Done()
	ln.Close()
}

func names() string {
	var s []string
	for k := range libs {
		s = append(s, k)
	}
	sort.Strings(s)
	return fmt.Sprint(s)
}
