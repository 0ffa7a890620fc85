package wsevents

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

type ctxKey struct{}

// A connection keeps its upgrade request without the handshake's own
// headers: everything else (other headers, cookies, URL, context values
// set by middleware) stays, and IDGenerator sees the request whole.
func TestRequestKeptWithoutHandshakeHeaders(t *testing.T) {
	var idSawKey bool
	s := New(Config{IDGenerator: func(r *http.Request) string {
		idSawKey = r.Header.Get("Sec-WebSocket-Key") != ""
		return "conn-1"
	}})
	got := make(chan *http.Request, 1)
	s.OnConnection(func(c Connection) { got <- c.Request() })
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "alice")))
	})
	ts := httptest.NewServer(mw)
	defer ts.Close()
	defer s.Shutdown(context.Background())

	h := ws.HandshakeHeaderHTTP(http.Header{
		"X-Tenant":   {"t1", "t2"},
		"Cookie":     {"session=abc"},
		"User-Agent": {"wsevents-test"},
	})
	d := ws.Dialer{Protocols: []string{Subprotocol}, Header: h}
	conn, _, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/room?x=1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := <-got
	if !idSawKey {
		t.Error("IDGenerator did not see the whole request")
	}
	for _, k := range []string{"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Upgrade", "Connection"} {
		if v := r.Header.Values(k); len(v) > 0 {
			t.Errorf("kept handshake header %s: %q", k, v)
		}
	}
	if v := r.Header.Values("X-Tenant"); len(v) != 2 || v[0] != "t1" || v[1] != "t2" {
		t.Errorf("X-Tenant %q, want [t1 t2]", v)
	}
	if r.Header.Get("Sec-WebSocket-Protocol") != Subprotocol {
		t.Errorf("Sec-WebSocket-Protocol %q dropped", r.Header.Get("Sec-WebSocket-Protocol"))
	}
	if ck, err := r.Cookie("session"); err != nil || ck.Value != "abc" {
		t.Errorf("cookie: %v %v", ck, err)
	}
	if r.UserAgent() != "wsevents-test" || r.URL.Path != "/room" || r.URL.Query().Get("x") != "1" || r.Method != http.MethodGet || r.RemoteAddr == "" {
		t.Errorf("request fields lost: UA %q path %q query %q method %q remote %q", r.UserAgent(), r.URL.Path, r.URL.RawQuery, r.Method, r.RemoteAddr)
	}
	if v, _ := r.Context().Value(ctxKey{}).(string); v != "alice" {
		t.Errorf("context value %q, want alice", v)
	}
}

// OnPing sees the peer's pings, each answered with a pong carrying the
// same payload; values set on a connection are there for its later
// handlers, and each connection has its own.
func TestOnPingAndValues(t *testing.T) {
	s := New(Config{PingPeriod: -1})
	pinged := make(chan string, 4)
	s.OnConnection(func(c Connection) {
		c.SetValue("user", c.Request().URL.Query().Get("user"))
		c.OnPing(func() { pinged <- c.GetValue("user").(string) })
		c.On("whoami", func() { c.Emit("you", c.GetValue("user")) })
		c.On("forget", func() {
			c.SetValue("user", nil)
			c.Emit("you", c.GetValue("missing") == nil && c.GetValue("user") == nil)
		})
	})
	url := testServer(t, s)
	ann, bob := dialEvents(t, url+"?user=ann"), dialEvents(t, url+"?user=bob")

	ws.WriteFrame(ann.conn, ws.MaskFrame(ws.NewPingFrame([]byte("p1"))))
	if got := within(t, pinged, "OnPing"); got != "ann" {
		t.Fatalf("OnPing ran for %q", got)
	}
	ann.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := ws.ReadFrame(ann.conn)
	if err != nil || f.Header.OpCode != ws.OpPong || string(f.Payload) != "p1" {
		t.Fatalf("answer to the ping: %v %v %q", err, f.Header.OpCode, f.Payload)
	}
	bob.send("et:whoami\n")
	bob.expect("et:you\nbob")
	ann.send("et:whoami\n")
	ann.expect("et:you\nann")
	ann.send("et:forget\n")
	ann.expect("ej:you\ntrue")
	bob.send("et:whoami\n")
	bob.expect("et:you\nbob")
}

// A connection keeps the values of its request's context. From net/http's
// own context (no middleware, no BaseContext or ConnContext) it keeps only
// net/http's two values, not the chain of cancelled contexts under them;
// a context that could hold more is kept whole.
func TestRetainedContext(t *testing.T) {
	type connKey struct{}
	for _, withConnContext := range []bool{false, true} {
		got := make(chan Connection, 1)
		s := New(Config{PingPeriod: -1})
		s.OnConnection(func(c Connection) { got <- c })
		ts := httptest.NewUnstartedServer(s)
		if withConnContext {
			ts.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
				return context.WithValue(ctx, connKey{}, "conn value")
			}
		}
		ts.Start()
		cl := dial(t, "ws"+strings.TrimPrefix(ts.URL, "http")+"/")
		c := <-got
		for _, ctx := range []context.Context{c.Context(), c.Request().Context()} {
			if srv, _ := ctx.Value(http.ServerContextKey).(*http.Server); srv != ts.Config {
				t.Errorf("ServerContextKey: %v", srv)
			}
			if a, _ := ctx.Value(http.LocalAddrContextKey).(net.Addr); a == nil || a.String() != ts.Listener.Addr().String() {
				t.Errorf("LocalAddrContextKey: %v, want %v", a, ts.Listener.Addr())
			}
			if v := ctx.Value(connKey{}); withConnContext && v != "conn value" || !withConnContext && v != nil {
				t.Errorf("ConnContext value %v (ConnContext set: %v)", v, withConnContext)
			}
		}
		if _, compact := c.Request().Context().(*httpValues); compact == withConnContext {
			t.Errorf("kept context %T (ConnContext set: %v)", c.Request().Context(), withConnContext)
		}
		cl.conn.Close()
		waitFor(t, "the connection to end", func() bool { return s.Len() == 0 })
		ts.Close()
	}
}
