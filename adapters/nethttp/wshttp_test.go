package wshttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	wshttp "github.com/wsevents/wsevents/adapters/nethttp"
	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformance runs the adapter conformance table with the Server
// mounted on a ServeMux route.
func TestConformance(t *testing.T) {
	wseventstest.Run(t, func(t testing.TB, srv *wsevents.Server) string {
		mux := http.NewServeMux()
		mux.Handle("/ws", wshttp.Handler(srv))
		return serve(t, mux) + "/ws"
	})
}

// serve starts h on a loopback listener and returns its ws:// base URL.
func serve(t testing.TB, h http.Handler) string {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

// newServer returns a Server shut down when the test ends, after the
// clients the test dials later have been closed.
func newServer(t testing.TB, onConn func(wsevents.Connection)) *wsevents.Server {
	srv := wsevents.New(wsevents.Config{})
	srv.OnConnection(onConn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return srv
}

func echo(c wsevents.Connection) {
	c.On("echo", func(s string) { c.Emit("echo", s) })
}

// unwrapWriter is what logging and metrics middleware usually wrap the
// ResponseWriter in, with the Unwrap method net/http asks for.
type unwrapWriter struct {
	http.ResponseWriter
	status int
}

func (w *unwrapWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *unwrapWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestMiddlewareWithUnwrapUpgrades(t *testing.T) {
	srv := newServer(t, echo)
	logging := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", "r-1")
			next.ServeHTTP(&unwrapWriter{ResponseWriter: w}, r)
		})
	}
	url := serve(t, logging(wshttp.Handler(srv)))
	cl := wseventstest.Dial(t, url, nil)
	if got := cl.Response.Header.Get("X-Request-Id"); got != "r-1" {
		t.Errorf("101 response lacks the middleware's header: X-Request-Id = %q", got)
	}
	cl.Emit("echo", "through middleware")
	cl.Expect(wseventstest.Event("echo", wsevents.KindText, "through middleware"))
}

// TestMiddlewareWithoutUnwrapFails pins down the limitation doc.go states:
// a wrapper that hides the Hijacker fails the upgrade cleanly.
func TestMiddlewareWithoutUnwrapFails(t *testing.T) {
	connected := make(chan struct{}, 1)
	srv := newServer(t, func(wsevents.Connection) { connected <- struct{}{} })
	opaque := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(struct{ http.ResponseWriter }{w}, r)
		})
	}
	url := serve(t, opaque(wshttp.Handler(srv)))
	req, err := http.NewRequest("GET", "http"+strings.TrimPrefix(url, "ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		t.Fatal("upgraded through a ResponseWriter that cannot hijack")
	}
	if n := srv.Len(); n != 0 {
		t.Errorf("srv.Len() = %d, want 0", n)
	}
	select {
	case <-connected:
		t.Error("OnConnection ran without an upgrade")
	default:
	}
}

type ctxKey struct{}

// TestRequestReachesHandlers: what net/http knows about the request (path
// values of the ServeMux pattern, middleware context values) is in
// c.Request(), and the context values in c.Context() too.
func TestRequestReachesHandlers(t *testing.T) {
	type seen struct{ room, fromRequest, fromConn any }
	got := make(chan seen, 1)
	srv := newServer(t, func(c wsevents.Connection) {
		got <- seen{c.Request().PathValue("room"), c.Request().Context().Value(ctxKey{}), c.Context().Value(ctxKey{})}
	})
	mux := http.NewServeMux()
	wshttp.Mount(mux, "/rooms/{room}", srv)
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "user-7")))
		})
	}
	wseventstest.Dial(t, serve(t, auth(mux))+"/rooms/lobby", nil)
	var s seen
	select {
	case s = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("OnConnection did not run")
	}
	if s.room != "lobby" {
		t.Errorf(`c.Request().PathValue("room") = %v, want "lobby"`, s.room)
	}
	if s.fromRequest != "user-7" || s.fromConn != "user-7" {
		t.Errorf("context value: c.Request().Context() has %v, c.Context() has %v; want user-7 in both", s.fromRequest, s.fromConn)
	}
}

func TestMountMethods(t *testing.T) {
	srv := newServer(t, echo)
	mux := http.NewServeMux()
	wshttp.Mount(mux, "/ws", srv)
	wshttp.Mount(mux, "GET /explicit", srv) // a pattern with a method is kept
	url := serve(t, mux)
	for _, path := range []string{"/ws", "/explicit"} {
		cl := wseventstest.Dial(t, url+path, nil)
		cl.Emit("echo", path)
		cl.Expect(wseventstest.Event("echo", wsevents.KindText, path))
	}
	resp, err := http.Post("http"+strings.TrimPrefix(url, "ws")+"/ws", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to a Mount route: %s, want 405", resp.Status)
	}
}

// TestServerTimeoutsEndAtUpgrade: an http.Server with short read and
// write timeouts does not cut upgraded connections that outlive them.
func TestServerTimeoutsEndAtUpgrade(t *testing.T) {
	srv := newServer(t, echo)
	ts := httptest.NewUnstartedServer(wshttp.Handler(srv))
	ts.Config.ReadTimeout = 100 * time.Millisecond
	ts.Config.WriteTimeout = 100 * time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	cl := wseventstest.Dial(t, "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	time.Sleep(300 * time.Millisecond) // idle past both timeouts
	cl.Emit("echo", "still here")
	cl.Expect(wseventstest.Event("echo", wsevents.KindText, "still here"))
}

func TestNilServerPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Handler(nil) did not panic")
		}
	}()
	wshttp.Handler(nil)
}
