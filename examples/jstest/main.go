// Command jstest is the Go server the JS client's integration tests run
// against: the echo contract of jsclient/test/contract.test.ts on the real
// core, plus events that let a test make the server ask the client, emit
// values of every kind, or close the connection with 1008.
//
//	go run ./examples/jstest [-addr 127.0.0.1:0] [-ask-timeout 1s] [-exit-on-eof]
//	                         [-origin-patterns 'a.example,*.b.example']
//
// The first line on standard output is "listening HOST:PORT" (with port 0,
// the port the system chose); the endpoint is ws://HOST:PORT/events.
//
// Two more endpoints serve the same events under other origin policies, for
// the origin tests (jsclient/test/integration-origin.test.ts):
//
//	/events            the default: same-host origins only (and requests without Origin)
//	/events-allowlist  also the origins whose host matches -origin-patterns (Config.OriginPatterns)
//	/events-insecure   every origin (Config.InsecureSkipOriginCheck)
//
// and one the same events under an event rate limit of a burst of 5 and
// no refill to speak of (RateLimitDrop: the client gets "ratelimited"
// notices):
//
//	/events-ratelimited
//
// On a connection in event mode:
//
//	event "echo"           the payload comes back as an "echo" event, same kind
//	ask "echo"             the payload comes back as the reply, same kind
//	ask "fail"             error reply whose text is the payload
//	ask "kind"             replies the payload's kind as Go saw it: "text", "json", "binary"
//	ask "sleep"            replies the payload (milliseconds, at most 5000) after that long
//	ask "stats"            replies {"accepted": handshakes so far, "connections": live now}
//	event "server-ask"     the server asks this client "question" with the payload
//	                       (same kind) and reports the outcome as an "ask-result"
//	                       event (the reply, same kind) or an "ask-error" event
//	                       (text: the client's error text, or the Go error)
//	event "emit-kinds"     the server emits one "kinds" event per Go value in goValues
//	event "policy-close"   the server closes the connection with 1008, the payload as reason
//	any other ask          the protocol's no-handler error reply
//
// Native messages, in either mode, are sent back as they came (text as text,
// binary as binary).
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
	"strconv"
	"strings"
	"syscall"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

// goValues are what "emit-kinds" emits, in order: one of each Go type Emit
// maps to a kind. The JS tests expect them as "42" (string), 42, -3.5, true,
// null, {"name":"gopher","tags":["a","b"]}, bytes 0 1 255, and empty bytes.
var goValues = []any{
	"42",
	42,
	-3.5,
	true,
	nil,
	struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{"gopher", []string{"a", "b"}},
	[]byte{0, 1, 255},
	[]byte{},
}

// maxSleep bounds "sleep", so a test cannot hold a connection for long.
const maxSleep = 5 * time.Second

// newServer returns a wsevents Server of the tests, configured by cfg.
// askTimeout bounds the asks "server-ask" makes.
func newServer(askTimeout time.Duration, cfg wsevents.Config) *wsevents.Server {
	ws := wsevents.New(cfg)
	ws.OnConnection(func(c wsevents.Connection) {
		c.OnMessage(func(m wsevents.Message) { c.EmitMessage(m) })

		c.On("echo", func(m wsevents.Message) (any, error) {
			if !m.Asked {
				return nil, c.Emit("echo", m)
			}
			return m, nil
		})
		c.On("fail", func(m wsevents.Message) (any, error) {
			return nil, errors.New(m.String())
		})
		c.On("kind", func(m wsevents.Message) (any, error) {
			return m.Kind.String(), nil
		})
		c.On("sleep", func(m wsevents.Message) (any, error) {
			ms, err := strconv.Atoi(m.String())
			if err != nil {
				return nil, fmt.Errorf("sleep: %w", err)
			}
			d := min(time.Duration(ms)*time.Millisecond, maxSleep)
			select {
			case <-time.After(d):
			case <-c.Context().Done():
			}
			return ms, nil
		})
		c.On("stats", func(wsevents.Message) (any, error) {
			st := ws.Stats()
			return map[string]any{"accepted": st.Accepted, "connections": st.Connections}, nil
		})
		c.On("server-ask", func(m wsevents.Message) {
			// Ask from a goroutine: the reply is read by the goroutine
			// this handler runs on.
			go func() {
				ctx, cancel := context.WithTimeout(c.Context(), askTimeout)
				defer cancel()
				reply, err := c.Ask(ctx, "question", m)
				var re *wsevents.RemoteError
				switch {
				case err == nil:
					c.Emit("ask-result", reply)
				case errors.As(err, &re):
					c.Emit("ask-error", re.Message)
				default:
					c.Emit("ask-error", err.Error())
				}
			}()
		})
		c.On("emit-kinds", func() {
			for _, v := range goValues {
				if err := c.Emit("kinds", v); err != nil {
					log.Printf("emit-kinds %T: %v", v, err)
				}
			}
		})
		c.On("policy-close", func(reason string) {
			c.Close(wsevents.StatusPolicyViolation, reason)
		})
	})
	return ws
}

// servers are the endpoints' Servers, one per origin policy.
type servers struct {
	events, allowlist, insecure, ratelimited *wsevents.Server
}

func newServers(askTimeout time.Duration, originPatterns []string) servers {
	return servers{
		events:      newServer(askTimeout, wsevents.Config{}),
		allowlist:   newServer(askTimeout, wsevents.Config{OriginPatterns: originPatterns}),
		insecure:    newServer(askTimeout, wsevents.Config{InsecureSkipOriginCheck: true}),
		ratelimited: newServer(askTimeout, wsevents.Config{EventRate: 0.001, EventBurst: 5}),
	}
}

// newHandler routes each endpoint to its Server.
func newHandler(ss servers) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /events", ss.events)
	mux.Handle("GET /events-allowlist", ss.allowlist)
	mux.Handle("GET /events-insecure", ss.insecure)
	mux.Handle("GET /events-ratelimited", ss.ratelimited)
	return mux
}

// run serves on ln until ctx ends, then closes the connections with 1001
// and stops. originPatterns are the /events-allowlist endpoint's.
func run(ctx context.Context, ln net.Listener, askTimeout time.Duration, originPatterns []string) error {
	ss := newServers(askTimeout, originPatterns)
	hs := &http.Server{Handler: newHandler(ss), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Upgraded connections are not http.Server's: close them first.
	for _, ws := range []*wsevents.Server{ss.events, ss.allowlist, ss.insecure, ss.ratelimited} {
		ws.Shutdown(shutdown)
	}
	if err := hs.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func main() {
	fs := flag.NewFlagSet("jstest", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen `address`; port 0 picks a free port")
	askTimeout := fs.Duration("ask-timeout", time.Second, "how long \"server-ask\" waits for the client's reply")
	exitOnEOF := fs.Bool("exit-on-eof", false, "exit when standard input ends, so a test runner that dies does not leave this server behind")
	originPatterns := fs.String("origin-patterns", "", "comma-separated origin host `patterns` /events-allowlist accepts besides the same host")
	fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "jstest: unexpected arguments %q\n", fs.Args())
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *exitOnEOF {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		go func() {
			io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	// The tests read this line to learn the port.
	fmt.Printf("listening %s\n", ln.Addr())
	var patterns []string
	for _, p := range strings.Split(*originPatterns, ",") {
		if p = strings.TrimSpace(p); p != "" {
			patterns = append(patterns, p)
		}
	}
	if err := run(ctx, ln, *askTimeout, patterns); err != nil {
		log.Fatal(err)
	}
}
