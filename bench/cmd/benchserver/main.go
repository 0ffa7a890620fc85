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
//
// Whatever the library, the server also answers GET /debug/gc (its own
// code, the same for every library): runtime.GC, debug.FreeOSMemory, then
// the Go runtime's memory figures and goroutine count as JSON. The idle
// memory scenario reads it before and after opening its connections.
// GET /debug/pprof/heap is the heap profile (where idle memory goes). At
// start the server raises its open-file limit to the hard limit.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
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
	if err := raiseOpenFiles(); err != nil {
		log.Printf("benchserver: open-file limit: %v", err)
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
	mux := http.NewServeMux()
	mux.Handle("/", mk())
	mux.HandleFunc("GET /debug/gc", debugGC)
	mux.Handle("GET /debug/pprof/heap", httppprof.Handler("heap"))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(os.Stderr, "http: ", 0)}
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

// MemReport is the answer of /debug/gc: the Go runtime's view of the
// process after a forced collection.
type MemReport struct {
	HeapInuse   uint64 `json:"heap_inuse"`
	HeapAlloc   uint64 `json:"heap_alloc"`
	HeapObjects uint64 `json:"heap_objects"`
	StackInuse  uint64 `json:"stack_inuse"`
	Sys         uint64 `json:"sys"`
	Goroutines  int    `json:"goroutines"`
}

// debugGC forces a collection, returns freed memory to the OS and reports
// the runtime's memory figures. The request's own goroutine is counted: it
// is there at every call, so it cancels out of a difference.
func debugGC(w http.ResponseWriter, r *http.Request) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep := MemReport{
		HeapInuse: ms.HeapInuse, HeapAlloc: ms.HeapAlloc, HeapObjects: ms.HeapObjects,
		StackInuse: ms.StackInuse, Sys: ms.Sys, Goroutines: runtime.NumGoroutine(),
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close")
	json.NewEncoder(w).Encode(rep)
}

// raiseOpenFiles sets the soft RLIMIT_NOFILE to the hard limit (the idle
// scenario holds 15,000 connections in one server process).
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
