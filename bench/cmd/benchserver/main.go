// Command benchserver is the server side of the peer benchmarks: one
// binary, one library per process, chosen with -lib.
//
// Every library serves, over net/http:
//
//	/echo    native echo: each message is sent back as it came
//	/bcast   native broadcast: each message received is sent to every
//	         connection of /bcast (the sender included)
//	/rooms/N rooms: a connection is a member of the room its path names;
//	         each message received is sent to every member of the
//	         sender's room (the sender included)
//
// and the event libraries (wsevents, neffos, neffos-sync) also:
//
//	/events  event "echo" is emitted back as "echo"; event "bcast" is
//	         broadcast as "bcast" to every connection of /events
//
// For events in rooms, wsevents serves event "rooms" on /rooms/N (to the
// room of the path); neffos serves it in namespace "default" on /events and
// /rooms/ alike, to the neffos room the message names (the client joins it
// with neffos's own room join).
//
// wsevents-gin, wsevents-echo and wsevents-iris are the same wsevents
// servers mounted on that framework's router through the adapter modules
// (adapters/gin, adapters/echo, adapters/iris) instead of net/http.
//
// Each is written the way the library's README or examples show; where this
// departs from them (a buffer size, a dropped rate limiter) a comment says
// why. Compression is off everywhere.
//
//	benchserver -lib gws -addr 127.0.0.1:9100 [-cpuprofile cpu.out] [-memprofilerate 1]
//
// It stops on SIGINT/SIGTERM (and writes the profile then).
//
// Whatever the library, the server also answers GET /debug/gc (its own
// code, the same for every library): runtime.GC, debug.FreeOSMemory, then
// the Go runtime's memory figures and goroutine count as JSON. The idle
// memory scenario reads it before and after opening its connections.
// GET /debug/pprof/heap is the heap profile (where idle memory goes),
// GET /debug/pprof/trace?seconds=N an execution trace. At
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
	"strings"
	"syscall"
	"time"
)

// libs: each builds the server's whole handler around debug (the
// benchserver's own /debug/ routes). The peers are served by a net/http
// ServeMux; the wsevents-<framework> variants by that framework's router,
// with debug mounted through the framework's wrapper of an http.Handler.
var libs = map[string]func(debug http.Handler) http.Handler{
	"wsevents":      withMux(wseventsHandler),
	"wsevents-gin":  wseventsGin,
	"wsevents-echo": wseventsEcho,
	"wsevents-iris": wseventsIris,
	"gws":           withMux(gwsHandler),
	"gorilla":       withMux(gorillaHandler),
	"coder":         withMux(coderHandler),
	"gobwas-naive":  withMux(gobwasHandler),
	"melody":        withMux(melodyHandler),
	"neffos":        withMux(func() http.Handler { return neffosHandler(false) }),
	"neffos-sync":   withMux(func() http.Handler { return neffosHandler(true) }),
}

// withMux serves a library's routes and the debug routes from one ServeMux.
func withMux(routes func() http.Handler) func(http.Handler) http.Handler {
	return func(debug http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", routes())
		mux.Handle("/debug/", debug)
		return mux
	}
}

// roomOf is the room a client named in its path, /rooms/<room>. Every
// library's /rooms route reads it the same way.
func roomOf(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/rooms/") }

func main() {
	lib := flag.String("lib", "", "library: "+names())
	addr := flag.String("addr", "127.0.0.1:9100", "listen `address`")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to `file` (from start to SIGTERM)")
	debugAddr := flag.String("debug-addr", "", "also serve the /debug/ routes on this `address` (required by wsevents-serve, whose listener is wsevents' alone)")
	memRate := flag.Int("memprofilerate", 0, "runtime.MemProfileRate (1: every allocation in /debug/pprof/heap; 0: Go's default)")
	flag.Parse()
	if *memRate > 0 {
		runtime.MemProfileRate = *memRate
	}
	mk, ok := libs[*lib]
	serve, raw := listenerLibs[*lib]
	if raw && *debugAddr == "" {
		fmt.Fprintf(os.Stderr, "benchserver: -lib %s needs -debug-addr\n", *lib)
		os.Exit(2)
	}
	if !ok && !raw {
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
	debug := http.NewServeMux()
	debug.HandleFunc("GET /debug/gc", debugGC)
	debug.Handle("GET /debug/pprof/heap", httppprof.Handler("heap"))
	debug.HandleFunc("GET /debug/pprof/trace", httppprof.Trace)
	if *debugAddr != "" {
		dl, err := net.Listen("tcp", *debugAddr)
		if err != nil {
			log.Fatal(err)
		}
		go (&http.Server{Handler: debug, ReadHeaderTimeout: 10 * time.Second}).Serve(dl)
	}
	if raw {
		go func() {
			if err := serve(ln); err != nil {
				log.Printf("benchserver: %v", err)
			}
		}()
	} else {
		hs := &http.Server{Handler: mk(debug), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(os.Stderr, "http: ", 0)}
		go hs.Serve(ln)
	}
	log.Printf("benchserver: %s on %s (pid %d)", *lib, ln.Addr(), os.Getpid())
	<-ctx.Done()
	ln.Close()
}

// listenerLibs take the listener whole: wsevents' raw-listener path
// (Server.Serve), no net/http server in front.
var listenerLibs = map[string]func(net.Listener) error{
	"wsevents-serve": wseventsServe,
}

func names() string {
	var s []string
	for k := range libs {
		s = append(s, k)
	}
	for k := range listenerLibs {
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
