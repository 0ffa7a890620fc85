// Command echo is a wsevents server that sends every message back
// unchanged. Protocol conformance suites (Autobahn-style, RFC 6455 and
// RFC 7692) and benchmarks point at it.
//
//	go run ./echo -addr 127.0.0.1:9001 -compression
//
// At /echo, a client that does not offer the wsevents.v1 subprotocol is
// in native mode and gets each message back as it sent it: text as text,
// binary as binary, byte for byte. A wsevents client (event mode) gets
// its native messages back the same way, and every "echo" event back as an
// "echo" event of the same kind.
//
// Flags:
//
//	-addr              listen address (default 127.0.0.1:9001)
//	-max-message-size  largest message accepted, in bytes (default 16 MiB,
//	                   the largest a conformance suite sends)
//	-compression       negotiate permessage-deflate (default off)
//
// The origin policy is core's default: browser pages from other hosts are
// refused; clients that send no Origin header are accepted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

// config is what the flags set.
type config struct {
	maxMessageSize    int64
	enableCompression bool
}

const defaultMaxMessageSize = 16 << 20

func main() {
	addr, cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("echo: serving ws://%s/echo (max message %d bytes, compression %v)", ln.Addr(), cfg.maxMessageSize, cfg.enableCompression)
	if err := run(ctx, ln, cfg); err != nil {
		log.Fatal(err)
	}
}

func parseFlags(args []string, output io.Writer) (addr string, cfg config, err error) {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&addr, "addr", "127.0.0.1:9001", "listen `address`")
	fs.Int64Var(&cfg.maxMessageSize, "max-message-size", defaultMaxMessageSize, "largest message accepted, in `bytes`")
	fs.BoolVar(&cfg.enableCompression, "compression", false, "negotiate permessage-deflate")
	if err := fs.Parse(args); err != nil {
		return "", config{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %q", fs.Args())
		fmt.Fprintln(output, err)
		return "", config{}, err
	}
	if cfg.maxMessageSize <= 0 {
		err := errors.New("-max-message-size must be positive")
		fmt.Fprintln(output, err)
		return "", config{}, err
	}
	return addr, cfg, nil
}

// newServer returns the echoing wsevents Server.
func newServer(cfg config) *wsevents.Server {
	srv := wsevents.New(wsevents.Config{
		MaxMessageSize:    cfg.maxMessageSize,
		EnableCompression: cfg.enableCompression,
		// Room for echoes of the largest messages queued back to back: a
		// client that pipelines big messages is not a slow consumer.
		MaxQueuedBytes: int(max(2*cfg.maxMessageSize, wsevents.DefaultMaxQueuedBytes)),
	})
	srv.OnConnection(func(c wsevents.Connection) {
		// A Message keeps its kind, so text goes back as text and binary
		// as binary.
		c.OnMessage(func(m wsevents.Message) { c.EmitMessage(m) })
		// An "echo" event comes back as an event, an asked one as the reply.
		c.On("echo", func(m wsevents.Message) (any, error) {
			if !m.Asked {
				return nil, c.Emit("echo", m)
			}
			return m, nil
		})
	})
	return srv
}

// newHandler routes /echo to srv.
func newHandler(srv *wsevents.Server) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /echo", srv)
	return mux
}

// run serves on ln until ctx ends, then closes the connections with 1001
// and stops.
func run(ctx context.Context, ln net.Listener, cfg config) error {
	srv := newServer(cfg)
	hs := &http.Server{Handler: newHandler(srv), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Upgraded connections are not http.Server's: close them first.
	srv.Shutdown(shutdown)
	if err := hs.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
