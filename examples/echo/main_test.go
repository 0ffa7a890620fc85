package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
)

// start runs the echo server in-process on a free loopback port and
// returns the ws:// URL of /echo. It stops when the test ends.
func start(t *testing.T, cfg config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not return after its context ended")
		}
	})
	return "ws://" + ln.Addr().String() + "/echo"
}

func dial(t *testing.T, url string, compression bool, protocols ...string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{EnableCompression: compression, Subprotocols: protocols, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close() })
	ext := resp.Header.Get("Sec-WebSocket-Extensions")
	if got := strings.Contains(ext, "permessage-deflate"); got != compression {
		t.Fatalf("Sec-WebSocket-Extensions %q: permessage-deflate negotiated %v, want %v", ext, got, compression)
	}
	return conn
}

// roundTrip sends one message and fails unless the next one is the same
// bytes in the same frame type.
func roundTrip(t *testing.T, conn *websocket.Conn, op int, data []byte) {
	t.Helper()
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteMessage(op, data); err != nil {
		t.Fatalf("write %d bytes: %v", len(data), err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	gotOp, got, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read echo of %d bytes: %v", len(data), err)
	}
	if gotOp != op {
		t.Errorf("%d bytes sent with opcode %d came back with opcode %d", len(data), op, gotOp)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("%d bytes sent, %d bytes back, not identical", len(data), len(got))
	}
}

var sizes = []int{0, 125, 64 << 10, 1 << 20}

// payloads returns a text payload (valid UTF-8, partly multi-byte) and a
// binary one (random, so compression cannot shrink it) of n bytes.
func payloads(n int) (text, binary []byte) {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	var b strings.Builder
	for b.Len() < n {
		if n-b.Len() >= 2 && r.IntN(8) == 0 {
			b.WriteString("é")
		} else {
			b.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	binary = make([]byte, n)
	for i := range binary {
		binary[i] = byte(r.Uint32())
	}
	return []byte(b.String()), binary
}

func TestNativeEcho(t *testing.T) {
	for _, compression := range []bool{false, true} {
		name := "plain"
		if compression {
			name = "deflate"
		}
		t.Run(name, func(t *testing.T) {
			url := start(t, config{maxMessageSize: defaultMaxMessageSize, enableCompression: compression})
			conn := dial(t, url, compression)
			if p := conn.Subprotocol(); p != "" {
				t.Fatalf("subprotocol %q for a client that offered none", p)
			}
			for _, n := range sizes {
				text, binary := payloads(n)
				roundTrip(t, conn, websocket.TextMessage, text)
				roundTrip(t, conn, websocket.BinaryMessage, binary)
			}
		})
	}
}

func TestEventEcho(t *testing.T) {
	for _, compression := range []bool{false, true} {
		name := "plain"
		if compression {
			name = "deflate"
		}
		t.Run(name, func(t *testing.T) {
			url := start(t, config{maxMessageSize: defaultMaxMessageSize, enableCompression: compression})
			conn := dial(t, url, compression, wsevents.Subprotocol)
			if p := conn.Subprotocol(); p != wsevents.Subprotocol {
				t.Fatalf("subprotocol %q, want %q", p, wsevents.Subprotocol)
			}
			_, big := payloads(64 << 10)
			for _, m := range []struct {
				op   int
				wire string
			}{
				{websocket.TextMessage, "et:echo\nhello"},
				{websocket.TextMessage, "et:echo\n"},
				{websocket.TextMessage, `ej:echo` + "\n" + `{"x":1,"y":[2,3]}`},
				{websocket.BinaryMessage, "eb:echo\n\x00\x01\xfe\xff"},
				{websocket.BinaryMessage, "eb:echo\n" + string(big)},
				{websocket.TextMessage, "mt:\nnative text from a wsevents client"},
				{websocket.BinaryMessage, "mb:\n\x00native binary"},
			} {
				roundTrip(t, conn, m.op, []byte(m.wire))
			}
		})
	}
}

func TestOversizeClosesWith1009(t *testing.T) {
	url := start(t, config{maxMessageSize: 1 << 10})
	conn := dial(t, url, false)
	roundTrip(t, conn, websocket.BinaryMessage, make([]byte, 1<<10))
	conn.WriteMessage(websocket.BinaryMessage, make([]byte, 1<<10+1))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("after a message over the limit: %v, want close 1009", err)
	}
}

func TestCrossOriginRefused(t *testing.T) {
	url := start(t, config{maxMessageSize: defaultMaxMessageSize})
	_, resp, err := websocket.DefaultDialer.Dial(url, http.Header{"Origin": {"http://evil.example"}})
	if err == nil {
		t.Fatal("handshake from another origin was upgraded")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("handshake from another origin: %v, want 403", err)
	}
	resp.Body.Close()
}

func TestFlags(t *testing.T) {
	addr, cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1:9001" || cfg != (config{maxMessageSize: 16 << 20}) {
		t.Errorf("defaults: %q %+v", addr, cfg)
	}
	addr, cfg, err = parseFlags([]string{"-addr", ":0", "-max-message-size", "1024", "-compression"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if addr != ":0" || cfg != (config{maxMessageSize: 1024, enableCompression: true}) {
		t.Errorf("parsed: %q %+v", addr, cfg)
	}
	for _, bad := range [][]string{{"-max-message-size", "0"}, {"extra"}, {"-nope"}} {
		if _, _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}
