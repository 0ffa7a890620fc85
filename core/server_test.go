package wsevents

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func TestEventsBothWays(t *testing.T) {
	s := New(Config{})
	got := make(chan any, 10)
	s.OnConnection(func(c Connection) {
		c.On("chat", func(msg string) { c.Emit("chat", "echo: "+msg) })
		c.On("num", func(n int) { got <- n })
		c.On("float", func(f float64) { got <- f })
		c.On("flag", func(b bool) { got <- b })
		c.On("any", func(v any) { got <- v })
		c.On("raw", func(b []byte) { got <- string(b) })
		c.On("none", func() { got <- "none" })
		type move struct{ X, Y int }
		c.On("move", JSON(func(m move) { got <- m.X + m.Y }))
		c.OnError(func(err error) { got <- err })
	})
	cl := dialEvents(t, testServer(t, s))
	cl.send("et:chat\nhello")
	cl.expect("et:chat\necho: hello")
	for _, tc := range []struct {
		msg  string
		want any
	}{
		{"ej:num\n42", 42},
		{"ej:float\n-1.5", -1.5},
		{"ej:flag\ntrue", true},
		{"ej:any\n{\"a\":1}", map[string]any{"a": 1.0}},
		{"et:any\n42", "42"}, // text stays text
		{"et:raw\nbytes", "bytes"},
		{"ej:none\nnull", "none"},
		{"ej:move\n{\"X\":2,\"Y\":3}", 5},
	} {
		cl.send(tc.msg)
		select {
		case v := <-got:
			if !equalish(v, tc.want) {
				t.Errorf("%q: handler got %#v, want %#v", tc.msg, v, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: handler not called", tc.msg)
		}
	}
	cl.send("ej:num\n\"x\"")
	if err, ok := (<-got).(error); !ok || !strings.Contains(err.Error(), `"num"`) {
		t.Fatalf("bad payload for func(int): %v", err)
	}
	cl.send("et:nobody\nx")
	if err, ok := (<-got).(error); !ok || !errors.Is(err, ErrNoHandler) {
		t.Fatalf("unknown event: %v", err)
	}
}

func equalish(a, b any) bool {
	if m, ok := a.(map[string]any); ok {
		n, ok := b.(map[string]any)
		return ok && len(m) == len(n) && m["a"] == n["a"]
	}
	return a == b
}

func TestAskBothWays(t *testing.T) {
	s := New(Config{})
	conns := make(chan Connection, 1)
	s.OnConnection(func(c Connection) {
		c.On("sum", func(m Message) (any, error) {
			var xs []int
			if err := m.Decode(&xs); err != nil {
				return nil, err
			}
			return xs[0] + xs[1], nil
		})
		c.On("fail", func(Message) (any, error) { return nil, errors.New("no such user") })
		c.On("plain", func() {})
		c.On("either", func(m Message) (any, error) {
			if !m.Asked {
				c.Emit("either", "event")
				return nil, nil
			}
			return "asked", nil
		})
		conns <- c
	})
	cl := dialEvents(t, testServer(t, s))
	cl.send("aj7:sum\n[1,2]")
	cl.expect("rj7:\n3")
	cl.send("aj8:fail\nnull")
	cl.expect("xt8:\nno such user")
	cl.send("aj9:plain\nnull")
	cl.expect("rj9:\nnull")
	cl.send("ej:either\nnull")
	cl.expect("et:either\nevent")
	cl.send("aj12:either\nnull")
	cl.expect("rt12:\nasked")
	cl.send("aj10:missing\nnull")
	cl.expect(`xt10:` + "\n" + `wsevents: no handler for event "missing"`)

	c := <-conns
	type res struct {
		m   Message
		err error
	}
	done := make(chan res, 1)
	go func() {
		m, err := c.Ask(context.Background(), "whoami", "?")
		done <- res{m, err}
	}()
	cl.expect("at1:whoami\n?")
	cl.send("rt1:\nann")
	r := <-done
	if r.err != nil || r.m.String() != "ann" || r.m.Kind != KindText || r.m.Event != "whoami" {
		t.Fatalf("ask: %+v", r)
	}
	go func() {
		m, err := c.Ask(context.Background(), "whoami", nil)
		done <- res{m, err}
	}()
	cl.expect("aj2:whoami\nnull")
	cl.send("xt2:\nnope")
	r = <-done
	var re *RemoteError
	if !errors.As(r.err, &re) || re.Message != "nope" || re.Event != "whoami" {
		t.Fatalf("ask error: %+v", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Ask(ctx, "silent", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ask timeout: %v", err)
	}
	cl.expect("aj3:silent\n1")
	cl.send("rj3:\n1") // late reply is ignored, connection stays
	cl.send("aj11:sum\n[2,2]")
	cl.expect("rj11:\n4")
}

func TestBroadcastRoomsAndTargets(t *testing.T) {
	s := New(Config{IDGenerator: func(r *http.Request) string { return r.URL.Query().Get("id") }})
	s.OnConnection(func(c Connection) {
		c.On("join", func(room string) { c.Join(room) })
		c.On("leave", func(room string) { c.Leave(room) })
		c.On("all", func(m string) { c.To(All).Emit("msg", m) })
		c.On("others", func(m string) { c.To(Broadcast).Emit("msg", m) })
		c.On("room", func(m string) { c.To("lobby").Emit("msg", m) })
		c.On("direct", func(m string) { c.To("b").Emit("msg", m) })
	})
	url := testServer(t, s)
	a, b, cc := dialEvents(t, url+"?id=a"), dialEvents(t, url+"?id=b"), dialEvents(t, url+"?id=c")
	waitFor(t, "3 connections", func() bool { return s.Len() == 3 })

	a.send("et:all\n1")
	a.expect("et:msg\n1")
	b.expect("et:msg\n1")
	cc.expect("et:msg\n1")
	a.send("et:others\n2")
	b.expect("et:msg\n2")
	cc.expect("et:msg\n2")
	a.send("et:direct\n3")
	b.expect("et:msg\n3")

	a.send("et:join\nlobby")
	b.send("et:join\nlobby")
	waitFor(t, "room of 2", func() bool { return s.RoomLen("lobby") == 2 })
	if got := s.RoomMembers("lobby"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("members %v", got)
	}
	a.send("et:room\n4") // reaches the room's other members only
	b.expect("et:msg\n4")
	if err := s.To("lobby").Emit("msg", 5); err != nil { // server side: every member
		t.Fatal(err)
	}
	a.expect("ej:msg\n5")
	b.expect("ej:msg\n5")
	cc.send("et:all\nsync") // c got nothing from the room
	cc.expect("et:msg\nsync")
	a.expect("et:msg\nsync")
	b.expect("et:msg\nsync")

	a.send("et:leave\nlobby")
	b.send("et:leave\nlobby")
	waitFor(t, "room gone", func() bool { return len(s.Rooms()) == 0 })
	if err := s.To("lobby").Emit("msg", 1); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("emit to vanished room: %v", err)
	}
	if _, ok := s.Get("c"); !ok {
		t.Fatal("Get(c)")
	}
}

func TestRoomsOnDisconnect(t *testing.T) {
	s := New(Config{})
	left := make(chan string, 4)
	gone := make(chan struct{})
	s.OnConnection(func(c Connection) {
		c.Join("r1")
		c.Join("r2")
		if !c.IsJoined("r1") || len(c.Rooms()) != 2 {
			t.Error("rooms not joined")
		}
		c.OnLeave(func(room string) { left <- room })
		c.OnDisconnect(func() { close(gone) })
	})
	cl := dialEvents(t, testServer(t, s))
	waitFor(t, "rooms", func() bool { return s.RoomLen("r2") == 1 })
	wsutil.WriteClientMessage(cl.conn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	if code := cl.closeCode(); code != StatusNormalClosure {
		t.Fatalf("close echo %d", code)
	}
	<-gone
	if a, b := <-left, <-left; a+b != "r1r2" {
		t.Fatalf("OnLeave %q %q", a, b)
	}
	if s.Len() != 0 || len(s.Rooms()) != 0 {
		t.Fatalf("registry not empty: %d conns, rooms %v", s.Len(), s.Rooms())
	}
}

func TestNativeMode(t *testing.T) {
	s := New(Config{Subprotocols: []string{"chat.v2"}})
	s.OnConnection(func(c Connection) {
		c.OnMessage(func(m Message) { c.EmitMessage(m) })
		if c.Subprotocol() != Subprotocol {
			if err := c.Emit("x", 1); !errors.Is(err, ErrNativeConnection) {
				t.Errorf("Emit on native connection: %v", err)
			}
		}
	})
	url := testServer(t, s)
	cl := dial(t, url, "chat.v2")
	if cl.hs.Protocol != "chat.v2" {
		t.Fatalf("subprotocol %q", cl.hs.Protocol)
	}
	wsutil.WriteClientText(cl.conn, []byte("et:not an event here"))
	if op, got := cl.read(); op != ws.OpText || got != "et:not an event here" {
		t.Fatalf("%v %q", op, got)
	}
	wsutil.WriteClientBinary(cl.conn, []byte{0, 1, 2})
	if op, got := cl.read(); op != ws.OpBinary || got != "\x00\x01\x02" {
		t.Fatalf("%v %q", op, got)
	}
	both := dial(t, url, "chat.v2", Subprotocol)
	if both.hs.Protocol != Subprotocol {
		t.Fatalf("event protocol not preferred: %q", both.hs.Protocol)
	}
	wsutil.WriteClientBinary(both.conn, []byte("mb:\n\xff\x00"))
	if op, got := both.read(); op != ws.OpBinary || got != "mb:\n\xff\x00" {
		t.Fatalf("%v %q", op, got)
	}
}

func TestConfigNotMutatedAndDefaults(t *testing.T) {
	cfg := Config{Subprotocols: []string{"a"}}
	s := New(cfg)
	if cfg.WriteTimeout != 0 || cfg.Logger != nil || cfg.MaxMessageSize != 0 {
		t.Fatal("New mutated the caller's Config")
	}
	cfg.Subprotocols[0] = "changed"
	if s.cfg.Subprotocols[0] != "a" {
		t.Fatal("Config slices are shared")
	}
	d := s.cfg
	if d.WriteTimeout != DefaultWriteTimeout || d.PingPeriod != DefaultPingPeriod || d.PongTimeout != DefaultPongTimeout ||
		d.MaxMessageSize != DefaultMaxMessageSize || d.HandshakeTimeout != DefaultHandshakeTimeout ||
		d.ReadTimeout != DefaultReadTimeout || d.ReadBufferSize != DefaultReadBufferSize ||
		d.WriteBufferSize != DefaultWriteBufferSize || d.MaxQueuedMessages != DefaultMaxQueuedMessages ||
		d.MaxQueuedBytes != DefaultMaxQueuedBytes || d.IDGenerator == nil || d.Error == nil || d.Logger == nil {
		t.Fatalf("defaults not applied: %+v", d)
	}
	if n := New(Config{PingPeriod: -1, WriteTimeout: -1}).cfg; n.PingPeriod != 0 || n.WriteTimeout != 0 {
		t.Fatal("negative durations must mean none")
	}
}

func TestIDGeneratorAndRequest(t *testing.T) {
	s := New(Config{IDGenerator: func(r *http.Request) string { return "user-" + r.URL.Query().Get("u") }})
	ids := make(chan string, 1)
	s.OnConnection(func(c Connection) {
		ids <- c.ID() + "|" + c.Request().Header.Get("X-Test")
		if c.Context().Err() != nil {
			t.Error("context done while connected")
		}
	})
	url := testServer(t, s)
	conn, resp := rawHandshake(t, url+"/?u=42", http.Header{"X-Test": {"yes"}})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := <-ids; got != "user-42|yes" {
		t.Fatalf("got %q", got)
	}
	conn.Close()
	waitFor(t, "disconnect", func() bool { return s.Len() == 0 })
	// Random IDs by default, unique.
	d := New(Config{})
	if a, b := d.cfg.IDGenerator(nil), d.cfg.IDGenerator(nil); a == b || len(a) != 32 {
		t.Fatalf("default IDs %q %q", a, b)
	}
}

func TestOriginPolicyAndErrorHook(t *testing.T) {
	var refused []int
	var mu sync.Mutex
	s := New(Config{
		OriginPatterns: []string{"*.trusted.example"},
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			mu.Lock()
			refused = append(refused, status)
			mu.Unlock()
			http.Error(w, "custom: "+reason.Error(), status)
		},
	})
	url := testServer(t, s)
	host := strings.TrimPrefix(url, "ws://")
	for origin, want := range map[string]int{
		"":                           101,
		"http://" + host:             101,
		"http://app.trusted.example": 101,
		"http://evil.example":        403,
		"null":                       403,
	} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		_, resp := rawHandshake(t, url, h)
		if resp.StatusCode != want {
			t.Errorf("origin %q: status %d, want %d", origin, resp.StatusCode, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != 2 || s.Stats().Refused != 2 {
		t.Fatalf("Error hook calls %v, stats %+v", refused, s.Stats())
	}
	// CheckOrigin replaces the default; InsecureSkipOriginCheck accepts all.
	for _, cfg := range []Config{
		{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "http://evil.example" }},
		{InsecureSkipOriginCheck: true},
	} {
		_, resp := rawHandshake(t, testServer(t, New(cfg)), http.Header{"Origin": {"http://evil.example"}})
		if resp.StatusCode != 101 {
			t.Errorf("%+v: status %d", cfg, resp.StatusCode)
		}
	}
}

func TestNotAWebSocketRequest(t *testing.T) {
	s := New(Config{})
	url := strings.Replace(testServer(t, s), "ws://", "http://", 1)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestPanicClosesOnlyThatConnection(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	s := New(Config{Logger: logger})
	errs := make(chan error, 1)
	s.OnConnection(func(c Connection) {
		c.On("boom", func() { panic("kaboom") })
		c.On("ping", func() { c.Emit("pong", nil) })
		c.OnError(func(err error) {
			if _, ok := err.(*PanicError); ok {
				errs <- err
			}
		})
	})
	url := testServer(t, s)
	a, b := dialEvents(t, url), dialEvents(t, url)
	a.send("ej:boom\nnull")
	if code := a.closeCode(); code != StatusInternalError {
		t.Fatalf("close %d, want 1011", code)
	}
	var pe *PanicError
	if err := <-errs; !errors.As(err, &pe) || pe.Event != "boom" || pe.Value != "kaboom" {
		t.Fatalf("panic report %v", err)
	}
	b.send("ej:ping\nnull")
	b.expect("ej:pong\nnull")
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "kaboom") || s.Stats().Panics != 1 {
		t.Fatalf("panic not logged/counted: %q %+v", logs.String(), s.Stats())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestShutdown(t *testing.T) {
	s := New(Config{})
	disconnected := make(chan struct{}, 2)
	s.OnConnection(func(c Connection) { c.OnDisconnect(func() { disconnected <- struct{}{} }) })
	url := testServer(t, s)
	a, b := dialEvents(t, url), dialEvents(t, url)
	waitFor(t, "2 conns", func() bool { return s.Len() == 2 })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	for _, c := range []*client{a, b} {
		if code := c.closeCode(); code != StatusGoingAway {
			t.Fatalf("close %d, want 1001", code)
		}
		wsutil.WriteClientMessage(c.conn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusGoingAway, ""))
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	<-disconnected
	<-disconnected
	_, resp := rawHandshake(t, url, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("handshake after shutdown: %d", resp.StatusCode)
	}
}

func TestShutdownForcesSilentPeers(t *testing.T) {
	s := New(Config{})
	url := testServer(t, s)
	conn, _ := rawHandshake(t, url, nil) // never answers the close
	waitFor(t, "conn", func() bool { return s.Len() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if s.Len() != 0 {
		t.Fatal("connection survived Shutdown")
	}
	conn.Close()
}
