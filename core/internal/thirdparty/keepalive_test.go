package thirdparty

import (
	"sync/atomic"
	"testing"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

var keepaliveConfig = wsevents.Config{PingPeriod: 100 * time.Millisecond, PongTimeout: 100 * time.Millisecond}

// A client that never answers pings is closed with 1001.
func TestKeepaliveNoPong1001(t *testing.T) {
	h := start(t, keepaliveConfig, nil)
	rc := dialRaw(t, h, "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
	sc := h.next(t)
	t0 := time.Now()
	pings := 0
	for {
		f, err := rc.readFrame()
		if err != nil {
			t.Fatalf("after %d pings: connection ended without a close frame: %v", pings, err)
		}
		if f.op == opPing {
			pings++
			continue
		}
		if f.op != opClose {
			t.Fatalf("unexpected frame op %d", f.op)
		}
		if code := closeCode(f.payload); code != 1001 {
			t.Fatalf("close %d %q, want 1001", code, f.payload[2:])
		}
		break
	}
	if pings == 0 {
		t.Fatal("closed for a missing pong without a ping")
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Fatalf("closed after %v; PingPeriod+PongTimeout is 200ms", d)
	}
	rc.write(clientFrame(fin, opClose, []byte{0x03, 0xE9}))
	h.waitGone(t, sc.ID())
}

// Clients that answer pings (gorilla and coder do while reading) stay
// connected for many periods.
func TestKeepaliveAnsweringClientsStay(t *testing.T) {
	const periods = 6
	var gPongs, cPongs atomic.Int64
	h := start(t, keepaliveConfig, func(c wsevents.Connection) {
		switch c.Request().URL.Query().Get("who") {
		case "gorilla":
			c.OnPong(func() { gPongs.Add(1) })
		case "coder":
			c.OnPong(func() { cPongs.Add(1) })
		}
	})
	base := h.url
	h.url = base + "?who=gorilla"
	g := gorillaEvents(t, h)
	gid := h.next(t).ID()
	h.url = base + "?who=coder"
	cc := coderEvents(t, h)
	cid := h.next(t).ID()
	h.url = base

	readErr := make(chan error, 2)
	go func() {
		g.SetReadDeadline(time.Now().Add(2 * wait))
		_, _, err := g.ReadMessage() // answers pings until a data message or the end
		readErr <- err
	}()
	go func() {
		ctx, cancel := ctxWait()
		defer cancel()
		_, _, err := cc.Read(ctx)
		readErr <- err
	}()

	eventually(t, "several pongs from both clients", func() bool {
		return gPongs.Load() >= periods && cPongs.Load() >= periods
	})
	select {
	case err := <-readErr:
		t.Fatalf("a client's read ended: %v", err)
	default:
	}
	for _, id := range []string{gid, cid} {
		if _, ok := h.srv.Get(id); !ok {
			t.Fatalf("connection %s closed although it answered every ping", id)
		}
	}
	// Both still carry events.
	h.srv.To(wsevents.All).Emit("alive", "yes")
	for i := 0; i < 2; i++ {
		if err := recv(t, readErr); err != nil {
			t.Fatalf("reading the event: %v", err)
		}
	}
}
