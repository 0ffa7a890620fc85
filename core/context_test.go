package wsevents

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// A connection's Context carries the upgrade request's values, ends when
// the connection does, and lets contexts derive from it: WithCancel and
// WithTimeout register with it (no goroutine each), AfterFunc runs once
// it ends unless stopped.
func TestConnContext(t *testing.T) {
	s := New(Config{})
	got := make(chan *Conn, 2)
	s.OnConnection(func(c Connection) { got <- c })
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "alice")))
	})
	ts := httptest.NewServer(mw)
	defer ts.Close()
	defer s.Shutdown(context.Background())
	url := "ws" + strings.TrimPrefix(ts.URL, "http")

	conn, _, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	c := <-got
	ctx := c.Context()
	if v, _ := ctx.Value(ctxKey{}).(string); v != "alice" {
		t.Fatalf("Value = %q, want the middleware's alice", v)
	}
	if _, ok := ctx.Deadline(); ok || ctx.Err() != nil {
		t.Fatalf("a live connection's context has a deadline or an error (%v)", ctx.Err())
	}
	derived, cancelDerived := context.WithTimeout(ctx, time.Hour)
	defer cancelDerived()
	gone, cancelGone := context.WithCancel(ctx)
	ran := make(chan struct{})
	context.AfterFunc(ctx, func() { close(ran) })
	stopped := context.AfterFunc(ctx, func() { t.Error("a stopped AfterFunc ran") })
	c.ctx.mu.Lock()
	n := len(c.ctx.after)
	c.ctx.mu.Unlock()
	if n != 4 {
		t.Fatalf("%d registrations with the connection's context, want 4 (two derived contexts, two AfterFuncs)", n)
	}
	cancelGone() // a derived context cancelled first unregisters itself
	if gone.Err() == nil {
		t.Fatal("cancelled derived context has no error")
	}
	if !stopped() {
		t.Fatal("stop did not report that it kept the func from running")
	}
	c.ctx.mu.Lock()
	n = len(c.ctx.after)
	c.ctx.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d registrations after a cancel and a stop, want 2", n)
	}
	select {
	case <-ctx.Done():
		t.Fatal("done while connected")
	default:
	}

	conn.Close()
	within(t, derived.Done(), "the derived context to end with the connection")
	within(t, ran, "the AfterFunc to run")
	if !errors.Is(ctx.Err(), context.Canceled) || !errors.Is(derived.Err(), context.Canceled) {
		t.Fatalf("Err = %v, derived %v; want context.Canceled", ctx.Err(), derived.Err())
	}
	late := make(chan struct{})
	if context.AfterFunc(ctx, func() { close(late) })() {
		t.Fatal("stop reported success on a context that had ended")
	}
	within(t, late, "an AfterFunc registered after the end to run")

	// A connection that ends before anybody asked for its Done channel
	// hands out a closed one.
	conn2, _, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	c2 := <-got
	conn2.Close()
	waitFor(t, "the second connection to end", func() bool { return c2.Context().Err() != nil })
	within(t, c2.Context().Done(), "the Done channel of an ended context")
}
