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
	defer func() {
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

	d := websocket.Dialer{Subprotocols: []string{"wsevents.v1"}, HandshakeTimeout: 5 * time.Second}
	url := "ws://" + ln.Addr().String() + "/chat"
	alice, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bob, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	read := func(c *websocket.Conn) string {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(p)
	}
	alice.WriteMessage(websocket.TextMessage, []byte("et:chat\nhi bob"))
	if got := read(alice); got != "et:chat\nme: hi bob" {
		t.Fatalf("sender got %q", got)
	}
	if got := read(bob); got != "et:chat\nhi bob" {
		t.Fatalf("other got %q", got)
	}
}
