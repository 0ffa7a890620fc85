package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
)

// TestSeed serves the sample's application and has two clients chat
// through /echo as the page does: what one says reaches the other, and
// only the other.
func TestSeed(t *testing.T) {
	app := newApp()
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(app)
	defer ts.Close()

	for path, want := range map[string][]byte{"/": []byte("new Ws(wsURL)"), "/iris-ws.js": wsevents.ClientSource} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, want) {
			t.Fatalf("GET %s: %d, %d bytes, not the expected content", path, resp.StatusCode, len(body))
		}
	}
	http.DefaultClient.CloseIdleConnections()

	d := websocket.Dialer{Subprotocols: []string{wsevents.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/echo"
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
	say := func(c *websocket.Conn, msg string) {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte("et:chat\n"+msg)); err != nil {
			t.Fatal(err)
		}
	}

	// The broadcast may race bob's registration right after his
	// handshake: alice repeats herself until bob hears her.
	bob.SetReadDeadline(time.Now().Add(5 * time.Second))
	heard := make(chan string, 1)
	go func() {
		_, p, err := bob.ReadMessage()
		if err != nil {
			heard <- err.Error()
			return
		}
		heard <- string(p)
	}()
	var got string
	for got == "" {
		say(alice, "hi bob")
		select {
		case got = <-heard:
		case <-time.After(50 * time.Millisecond):
		}
	}
	if got != "et:chat\nhi bob" {
		t.Fatalf("bob got %q", got)
	}

	// A broadcast skips its sender: alice hears bob, not herself.
	say(bob, "hi alice")
	alice.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, p, err := alice.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if string(p) != "et:chat\nhi alice" {
		t.Fatalf("alice got %q, want only bob's message", p)
	}
}
