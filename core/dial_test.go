package wsevents

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func serveOn(t *testing.T, s *Server, ln net.Listener) *http.Server {
	hs := &http.Server{Handler: s}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return hs
}

func TestClientEventsAndAsks(t *testing.T) {
	s := New(Config{EnableCompression: true})
	s.OnConnection(func(c Connection) {
		c.On("hello", func(name string) { c.Emit("greeting", "hi "+name) })
		c.On("sum", func(m Message) (any, error) {
			var xs []int
			if err := m.Decode(&xs); err != nil {
				return nil, err
			}
			return xs[0] + xs[1], nil
		})
		c.On("big", func(m Message) { c.Emit("big", m) })
		c.On("ask-me", func() {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				m, err := c.Ask(ctx, "name", nil)
				if err != nil {
					c.Emit("answer", "error: "+err.Error())
					return
				}
				c.Emit("answer", "got "+m.String())
			}()
		})
		c.OnMessage(func(m Message) { c.EmitMessage(m) })
	})
	url := testServer(t, s)

	got := make(chan string, 10)
	cl, err := Dial(context.Background(), url, DialOptions{Config: Config{EnableCompression: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cl.On("greeting", func(s string) { got <- s })
	cl.On("answer", func(s string) { got <- s })
	cl.On("name", func(Message) (any, error) { return "gopher", nil })
	cl.On("big", func(m Message) { got <- m.String() })
	cl.OnMessage(func(m Message) { got <- "native:" + m.String() + ":" + m.Kind.String() })

	if !cl.Conn().deflate {
		t.Fatal("compression not negotiated by the client")
	}
	cl.Emit("hello", "ann")
	if g := <-got; g != "hi ann" {
		t.Fatalf("event: %q", g)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := cl.Ask(ctx, "sum", []int{2, 3})
	if err != nil || m.String() != "5" || m.Kind != KindJSON {
		t.Fatalf("ask: %v %v", m, err)
	}
	if _, err := cl.Ask(ctx, "nobody", nil); err == nil || !strings.Contains(err.Error(), "no handler") {
		t.Fatalf("ask unknown: %v", err)
	}
	cl.Emit("ask-me", nil)
	if g := <-got; g != "got gopher" {
		t.Fatalf("server ask: %q", g)
	}
	big := strings.Repeat("compressible ", 10000)
	cl.Emit("big", big)
	if g := <-got; g != big {
		t.Fatalf("big message: %d bytes back", len(g))
	}
	cl.EmitMessage([]byte{0xff, 0})
	if g := <-got; g != "native:\xff\x00:binary" {
		t.Fatalf("native: %q", g)
	}
}

func TestClientReconnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s1 := New(Config{})
	s1.OnConnection(func(c Connection) { c.Emit("server", 1) })
	hs1 := serveOn(t, s1, ln)

	var (
		mu       sync.Mutex
		connects int
		seen     = make(chan int, 10)
		lost     = make(chan struct{}, 10)
	)
	cl, err := Dial(context.Background(), "ws://"+addr, DialOptions{
		Reconnect: &Reconnect{InitialDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond},
		OnConnect: func(*Conn) { mu.Lock(); connects++; mu.Unlock() },
		// Before the first connection: the server emits at once.
		Setup: func(cl *Client) {
			cl.On("server", func(n int) { seen <- n })
			cl.OnDisconnect(func() { lost <- struct{}{} })
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cl.OnConnect(func(*Conn) { mu.Lock(); connects++; mu.Unlock() }) // from the next connection on
	if n := within(t, seen, "the first server's event"); n != 1 {
		t.Fatalf("first server said %d", n)
	}

	// The server goes away; a new one comes up on the same address.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s1.Shutdown(ctx)
	hs1.Close()
	within(t, lost, "the disconnect")
	if err := cl.Emit("x", 1); !errors.Is(err, ErrNotConnected) && err != nil {
		t.Fatalf("emit while down: %v", err)
	}
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s2 := New(Config{})
	s2.OnConnection(func(c Connection) { c.Emit("server", 2) })
	serveOn(t, s2, ln2)
	select {
	case n := <-seen:
		if n != 2 {
			t.Fatalf("second server said %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reconnect")
	}
	mu.Lock()
	defer mu.Unlock()
	if connects != 3 { // DialOptions.OnConnect twice, Client.OnConnect once
		t.Fatalf("OnConnect calls: %d", connects)
	}
	t.Cleanup(func() { s2.Shutdown(context.Background()) })
}

func TestClientStopsOnPolicyClose(t *testing.T) {
	s := New(Config{})
	s.OnConnection(func(c Connection) {
		c.On("bye", func() { c.Close(StatusPolicyViolation, "go away") })
	})
	url := testServer(t, s)
	cl, err := Dial(context.Background(), url, DialOptions{Reconnect: &Reconnect{InitialDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	cl.Emit("bye", nil)
	select {
	case <-cl.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client kept going after 1008")
	}
	if code := CloseStatus(cl.Err()); code != StatusPolicyViolation {
		t.Fatalf("client error %v", cl.Err())
	}
	if err := cl.Emit("x", 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("emit after end: %v", err)
	}
	cl.Close()
}

func TestClientHandshakeRefused(t *testing.T) {
	s := New(Config{})
	url := testServer(t, s)
	_, err := Dial(context.Background(), url, DialOptions{Header: http.Header{"Origin": {"http://evil.example"}}})
	var he *HandshakeError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("dial with a foreign origin: %v", err)
	}
}

func TestClientRejectsMaskedServerFrame(t *testing.T) {
	// A "server" that sends a masked frame after the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\nSec-WebSocket-Protocol: wsevents.v1\r\n\r\n"))
		c.Write(maskedFrame(0x81, []byte("et:x\ny"), 6))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(buf) // the client's close frame
	}()
	cl, err := Dial(context.Background(), "ws://"+ln.Addr().String(), DialOptions{})
	if err != nil {
		t.Fatalf("handshake with the fake server: %v", err)
	}
	<-cl.Done()
	if code := CloseStatus(cl.Err()); code != StatusProtocolError {
		t.Fatalf("client closed with %v", cl.Err())
	}
}

// within receives from ch, failing the test after 5 seconds.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
