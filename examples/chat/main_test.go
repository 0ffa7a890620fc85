package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestChat(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln) }()
	var clients []*websocket.Conn
	defer func() {
		for _, c := range clients {
			c.Close()
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	base := "http://" + ln.Addr().String()

	for path, want := range map[string]string{"/": "new Ws(", "/wsevents.js": "Code generated"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
	http.DefaultClient.CloseIdleConnections()

	d := websocket.Dialer{Subprotocols: []string{"wsevents.v1"}, HandshakeTimeout: 5 * time.Second}
	url := "ws://" + ln.Addr().String() + "/chat"
	dial := func() *websocket.Conn {
		t.Helper()
		c, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		return c
	}
	say := func(c *websocket.Conn, msg string) {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte("et:chat\n"+msg)); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(c *websocket.Conn, want string) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if got := string(p); got != "et:chat\n"+want {
			t.Fatalf("got %q, want chat %q", got, want)
		}
	}
	// Each client hears its own echo before the other speaks: its handlers
	// are registered by then, so no broadcast can miss it.
	alice := dial()
	say(alice, "hello?")
	expect(alice, "me: hello?")
	bob := dial()
	say(bob, "hi alice")
	expect(bob, "me: hi alice")
	expect(alice, "hi alice")
	say(alice, "hi bob")
	expect(alice, "me: hi bob")
	expect(bob, "hi bob")
}
