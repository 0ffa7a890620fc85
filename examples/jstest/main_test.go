package main

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The JS tests (jsclient/test/integration.test.ts) exercise this server in
// depth; this checks its events on the wire with an independent client, so a
// change here fails `go test` before it fails the JS run.
func TestServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, 200*time.Millisecond, nil) }()
	// Cleanups run last registered first: the connections close before the
	// server shuts down, which then has nobody to wait for.
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	url := "ws://" + ln.Addr().String() + "/events"

	dial := func(subprotocols ...string) *websocket.Conn {
		t.Helper()
		d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
		c, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	send := func(c *websocket.Conn, op int, msg string) {
		t.Helper()
		if err := c.WriteMessage(op, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(c *websocket.Conn, op int, want string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		gotOp, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("want %q: %v", want, err)
		}
		if gotOp != op || string(got) != want {
			t.Fatalf("got %q (opcode %d), want %q (opcode %d)", got, gotOp, want, op)
		}
	}
	text, binary := websocket.TextMessage, websocket.BinaryMessage

	c := dial("wsevents.v1")
	send(c, text, "ej:echo\n42")
	expect(c, text, "ej:echo\n42")
	send(c, binary, "eb:echo\n\x00\xff")
	expect(c, binary, "eb:echo\n\x00\xff")
	// An ask gets only its reply, no event.
	send(c, text, "at1:echo\n42")
	expect(c, text, "rt1:\n42")
	send(c, text, "at2:fail\nno such user")
	expect(c, text, "xt2:\nno such user")
	send(c, binary, "ab3:kind\n\x01")
	expect(c, text, "rt3:\nbinary")
	send(c, text, "at4:nobody\n")
	expect(c, text, "xt4:\nwsevents: no handler for event \"nobody\"")
	send(c, text, "mt:\nnative")
	expect(c, text, "mt:\nnative")
	send(c, text, "ej:emit-kinds\nnull")
	for _, want := range []string{"et:kinds\n42", "ej:kinds\n42", "ej:kinds\n-3.5", "ej:kinds\ntrue", "ej:kinds\nnull",
		`ej:kinds` + "\n" + `{"name":"gopher","tags":["a","b"]}`} {
		expect(c, text, want)
	}
	expect(c, binary, "eb:kinds\n\x00\x01\xff")
	expect(c, binary, "eb:kinds\n")

	// The server asks; the answer, or the failure, comes back as an event.
	send(c, text, "ej:server-ask\n[1]")
	expect(c, text, "aj1:question\n[1]")
	send(c, text, "rt1:\nyes")
	expect(c, text, "et:ask-result\nyes")
	send(c, text, "et:server-ask\nq")
	expect(c, text, "at2:question\nq")
	send(c, text, "xt2:\nrefused")
	expect(c, text, "et:ask-error\nrefused")
	send(c, text, "et:server-ask\nq")
	expect(c, text, "at3:question\nq")
	expect(c, text, "et:ask-error\ncontext deadline exceeded") // after 200ms

	send(c, text, "at5:stats\n")
	expect(c, text, `rj5:`+"\n"+`{"accepted":1,"connections":1}`)

	send(c, text, "et:policy-close\ngo away")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "go away" {
		t.Fatalf("after policy-close: %v, want close 1008 \"go away\"", err)
	}

	// Native mode: every message comes back as it went.
	n := dial()
	send(n, text, "et:echo\nnot an event")
	expect(n, text, "et:echo\nnot an event")
	send(n, binary, "\x00\x01")
	expect(n, binary, "\x00\x01")
}
