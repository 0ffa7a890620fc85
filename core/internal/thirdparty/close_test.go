package thirdparty

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
)

// PROTOCOL.md section 3: the close code an independent client sees.

func TestCloseDisconnect1000(t *testing.T) {
	h := start(t, wsevents.Config{}, nil)

	t.Run("gorilla", func(t *testing.T) {
		c := gorillaEvents(t, h)
		sc := h.next(t)
		if err := sc.Disconnect(); err != nil {
			t.Fatalf("Disconnect: %v", err)
		}
		if code := gorillaCloseCode(t, c); code != 1000 {
			t.Fatalf("gorilla saw close %d, want 1000", code)
		}
		h.waitGone(t, sc.ID())
		if err := sc.Disconnect(); !errors.Is(err, wsevents.ErrClosed) {
			t.Fatalf("second Disconnect = %v, want ErrClosed", err)
		}
	})
	t.Run("coder", func(t *testing.T) {
		c := coderEvents(t, h)
		sc := h.next(t)
		// What was queued before Disconnect still arrives, then the close.
		if err := sc.Emit("bye", "see you"); err != nil {
			t.Fatal(err)
		}
		sc.Disconnect()
		if m := coderReadMsg(t, c); m.name != "bye" || m.payload != "see you" {
			t.Fatalf("got %v before the close, want the queued event", m)
		}
		if code := coderCloseCode(t, c); code != 1000 {
			t.Fatalf("coder saw close %d, want 1000", code)
		}
		h.waitGone(t, sc.ID())
	})
}

func TestCloseShutdown1001(t *testing.T) {
	h := start(t, wsevents.Config{}, nil)
	g := gorillaEvents(t, h)
	h.next(t)
	cc := coderEvents(t, h)
	h.next(t)

	// Both clients read, so both answer the server's close frame.
	gcode, ccode := make(chan int, 1), make(chan int, 1)
	go func() {
		g.SetReadDeadline(deadline())
		for {
			_, _, err := g.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					gcode <- ce.Code
				} else {
					gcode <- -1
				}
				return
			}
		}
	}()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		for {
			if _, _, err := cc.Read(ctx); err != nil {
				ccode <- int(coder.CloseStatus(err))
				return
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want nil: both clients answered the close", err)
	}
	if n := h.srv.Len(); n != 0 {
		t.Fatalf("after Shutdown, Len = %d", n)
	}
	if code := recv(t, gcode); code != 1001 {
		t.Errorf("gorilla saw close %d, want 1001", code)
	}
	if code := recv(t, ccode); code != 1001 {
		t.Errorf("coder saw close %d, want 1001", code)
	}

	// A handshake after Shutdown is refused over HTTP.
	_, resp, err := websocket.DefaultDialer.Dial(h.url, nil)
	if err == nil {
		t.Fatal("dial after Shutdown succeeded")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after Shutdown: %v, want HTTP 503", err)
	}
}

func TestCloseProtocolError1002(t *testing.T) {
	h := start(t, wsevents.Config{}, nil)

	raw := []struct {
		name  string
		frame []byte
	}{
		{"rsv2 set", frame(fin|rsv2, opText, event("chat", "hi"), true)},
		{"rsv1 without permessage-deflate", frame(fin|rsv1, opText, event("chat", "hi"), true)},
		{"unmasked frame", frame(fin, opText, event("chat", "hi"), false)},
		{"reserved opcode", clientFrame(fin, 0x3, nil)},
		{"continuation without a message", clientFrame(fin, opCont, []byte("x"))},
		{"fragmented ping", clientFrame(0, opPing, nil)},
		{"ping over 125 bytes", clientFrame(fin, opPing, make([]byte, 126))},
		{"close with 1-byte payload", clientFrame(fin, opClose, []byte{3})},
		{"close code 0", clientFrame(fin, opClose, []byte{0, 0})},
		{"close code 1005", clientFrame(fin, opClose, []byte{0x03, 0xED})},
		{"new message inside a fragmented one", append(clientFrame(0, opText, []byte("et:a\n")), clientFrame(fin, opText, []byte("et:b\n"))...)},
		{"malformed wsevents message", clientFrame(fin, opText, []byte("qt:x\nhi"))},
	}
	for _, tc := range raw {
		t.Run("raw/"+tc.name, func(t *testing.T) {
			rc := dialRaw(t, h, "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
			sc := h.next(t)
			rc.write(tc.frame)
			if code := rc.closeCode(); code != 1002 {
				t.Fatalf("close %d, want 1002", code)
			}
			if rc.reason == "" {
				t.Error("1002 without a reason naming the fault")
			}
			h.waitGone(t, sc.ID())
		})
	}

	t.Run("gorilla/malformed message", func(t *testing.T) {
		c := gorillaEvents(t, h)
		sc := h.next(t)
		var reported atomic.Value
		sc.OnError(func(err error) { reported.Store(err) })
		gorillaSend(t, c, websocket.TextMessage, []byte("qt:x\nhi"))
		if code := gorillaCloseCode(t, c); code != 1002 {
			t.Fatalf("gorilla saw close %d, want 1002", code)
		}
		h.waitGone(t, sc.ID())
		if err, _ := reported.Load().(error); wsevents.CloseStatus(err) != wsevents.StatusProtocolError {
			t.Fatalf("OnError got %v, want a 1002 close error", err)
		}
	})
	t.Run("gorilla/ask without id", func(t *testing.T) {
		c := gorillaEvents(t, h)
		sc := h.next(t)
		gorillaSend(t, c, websocket.TextMessage, []byte("aj:sum\n[1,2]"))
		if code := gorillaCloseCode(t, c); code != 1002 {
			t.Fatalf("gorilla saw close %d, want 1002", code)
		}
		h.waitGone(t, sc.ID())
	})
	// A framing error gorilla cannot make itself: the bad frame goes down
	// its socket, and gorilla reads the close that answers it.
	t.Run("gorilla/reserved bit on the wire", func(t *testing.T) {
		c := gorillaEvents(t, h)
		sc := h.next(t)
		if _, err := c.UnderlyingConn().Write(frame(fin|rsv2, opText, event("chat", "hi"), true)); err != nil {
			t.Fatal(err)
		}
		if code := gorillaCloseCode(t, c); code != 1002 {
			t.Fatalf("gorilla saw close %d, want 1002", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("coder/empty JSON payload", func(t *testing.T) {
		c := coderEvents(t, h)
		sc := h.next(t)
		coderSend(t, c, coder.MessageBinary, []byte("ej:move\n"))
		if code := coderCloseCode(t, c); code != 1002 {
			t.Fatalf("coder saw close %d, want 1002", code)
		}
		h.waitGone(t, sc.ID())
	})
}

func TestCloseInvalidUTF8_1007(t *testing.T) {
	h := start(t, wsevents.Config{}, nil)
	bad := append([]byte("et:chat\n"), 0xff, 'x')
	cases := []struct {
		name   string
		frames [][]byte
	}{
		{"single frame", [][]byte{clientFrame(fin, opText, bad)}},
		{"surrogate half", [][]byte{clientFrame(fin, opText, []byte("et:chat\n\xed\xa0\x80"))}},
		{"split across fragments", [][]byte{
			clientFrame(0, opText, []byte("et:chat\n\xe2\x82")),
			clientFrame(fin, opCont, []byte("\x28")),
		}},
		// Checked as bytes arrive: the message never ends, the close comes anyway.
		{"fail fast in an unfinished message", [][]byte{clientFrame(0, opText, bad)}},
		{"message ends inside a sequence", [][]byte{
			clientFrame(0, opText, []byte("et:chat\n")),
			clientFrame(fin, opCont, []byte("\xe2\x82")),
		}},
		{"close reason", [][]byte{clientFrame(fin, opClose, []byte{0x03, 0xE8, 0xff})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, h, "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
			sc := h.next(t)
			for _, f := range tc.frames {
				rc.write(f)
			}
			if code := rc.closeCode(); code != 1007 {
				t.Fatalf("close %d, want 1007", code)
			}
			h.waitGone(t, sc.ID())
		})
	}
	t.Run("native mode", func(t *testing.T) {
		rc := dialRaw(t, h, "", nil)
		sc := h.next(t)
		rc.write(clientFrame(fin, opText, []byte{'h', 0xc0, 0xaf}))
		if code := rc.closeCode(); code != 1007 {
			t.Fatalf("close %d, want 1007", code)
		}
		h.waitGone(t, sc.ID())
	})
	// gorilla does not check the text it sends, so it can send invalid
	// UTF-8 and report the close it gets.
	t.Run("gorilla/events", func(t *testing.T) {
		c := gorillaEvents(t, h)
		sc := h.next(t)
		gorillaSend(t, c, websocket.TextMessage, bad)
		if code := gorillaCloseCode(t, c); code != 1007 {
			t.Fatalf("gorilla saw close %d, want 1007", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("gorilla/native", func(t *testing.T) {
		c := dialGorilla(t, h, websocket.Dialer{}, nil)
		sc := h.next(t)
		gorillaSend(t, c, websocket.TextMessage, []byte{'h', 0xc0, 0xaf})
		if code := gorillaCloseCode(t, c); code != 1007 {
			t.Fatalf("gorilla saw close %d, want 1007", code)
		}
		h.waitGone(t, sc.ID())
	})
}

func TestCloseMessageTooBig1009(t *testing.T) {
	const limit = 1024
	got := make(chan int, 16)
	h := start(t, wsevents.Config{MaxMessageSize: limit}, func(c wsevents.Connection) {
		c.On("big", func(s string) { got <- len(s) })
	})
	big := event("big", strings.Repeat("a", 2*limit))

	t.Run("at the limit is fine", func(t *testing.T) {
		c := gorillaEvents(t, h)
		h.next(t)
		m := event("big", "")
		m = append(m, strings.Repeat("a", limit-len(m))...)
		gorillaSend(t, c, websocket.TextMessage, m)
		if n := recv(t, got); n != limit-len("et:big\n") {
			t.Fatalf("handler got %d bytes", n)
		}
	})
	t.Run("gorilla/single frame", func(t *testing.T) {
		c := gorillaEvents(t, h)
		sc := h.next(t)
		gorillaSend(t, c, websocket.TextMessage, big)
		if code := gorillaCloseCode(t, c); code != 1009 {
			t.Fatalf("gorilla saw close %d, want 1009", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("gorilla/fragments each under the limit", func(t *testing.T) {
		// A 256-byte write buffer makes gorilla send the message as several
		// frames, each well under the limit.
		c := dialGorilla(t, h, websocket.Dialer{Subprotocols: []string{proto}, WriteBufferSize: 256}, nil)
		sc := h.next(t)
		gorillaSend(t, c, websocket.BinaryMessage, big)
		if code := gorillaCloseCode(t, c); code != 1009 {
			t.Fatalf("gorilla saw close %d, want 1009", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("coder/single frame", func(t *testing.T) {
		c := coderEvents(t, h)
		sc := h.next(t)
		coderSend(t, c, coder.MessageText, big)
		if code := coderCloseCode(t, c); code != 1009 {
			t.Fatalf("coder saw close %d, want 1009", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("coder/fragments each under the limit", func(t *testing.T) {
		c := coderEvents(t, h)
		sc := h.next(t)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		w, err := c.Writer(ctx, coder.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		// Each Write is one frame of 512 bytes.
		for i := 0; i < len(big); i += 512 {
			if _, err := w.Write(big[i:min(i+512, len(big))]); err != nil {
				break // the server may already have closed
			}
		}
		w.Close()
		if code := coderCloseCode(t, c); code != 1009 {
			t.Fatalf("coder saw close %d, want 1009", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("raw/fragments, message never finished", func(t *testing.T) {
		rc := dialRaw(t, h, "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
		sc := h.next(t)
		rc.write(clientFrame(0, opText, big[:600]))
		rc.write(clientFrame(0, opCont, big[600:1200]))
		if code := rc.closeCode(); code != 1009 {
			t.Fatalf("close %d, want 1009", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("raw/fragments with pings between", func(t *testing.T) {
		rc := dialRaw(t, h, "", nil)
		sc := h.next(t)
		for i := 0; i < 5; i++ {
			op := byte(opCont)
			if i == 0 {
				op = opBinary
			}
			rc.write(clientFrame(0, op, make([]byte, 300)))
			rc.write(clientFrame(fin, opPing, []byte("p")))
		}
		if code := rc.closeCode(); code != 1009 {
			t.Fatalf("close %d, want 1009", code)
		}
		h.waitGone(t, sc.ID())
	})
}

func TestCloseHandlerPanic1011(t *testing.T) {
	errs := make(chan error, 4)
	h := start(t, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("boom", func() { panic("kaboom") })
		c.On("echo", func(s string) { c.Emit("echo", s) })
		c.OnError(func(err error) { errs <- err })
	})

	t.Run("gorilla", func(t *testing.T) {
		c := gorillaEvents(t, h)
		sc := h.next(t)
		gorillaSend(t, c, websocket.TextMessage, event("boom", ""))
		if code := gorillaCloseCode(t, c); code != 1011 {
			t.Fatalf("gorilla saw close %d, want 1011", code)
		}
		h.waitGone(t, sc.ID())
		var pe *wsevents.PanicError
		if err := recv(t, errs); !errors.As(err, &pe) || pe.Event != "boom" || pe.Value != "kaboom" {
			t.Fatalf("OnError got %v, want the PanicError of \"boom\"", err)
		}
	})
	t.Run("coder", func(t *testing.T) {
		c := coderEvents(t, h)
		sc := h.next(t)
		coderSend(t, c, coder.MessageText, event("boom", ""))
		if code := coderCloseCode(t, c); code != 1011 {
			t.Fatalf("coder saw close %d, want 1011", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("server keeps serving", func(t *testing.T) {
		c := gorillaEvents(t, h)
		h.next(t)
		gorillaSend(t, c, websocket.TextMessage, event("echo", "still here"))
		if m := gorillaReadMsg(t, c); m.name != "echo" || m.payload != "still here" {
			t.Fatalf("got %v", m)
		}
		if n := h.srv.Stats().Panics; n != 2 {
			t.Fatalf("Stats().Panics = %d, want 2", n)
		}
	})
}

func TestOrigin(t *testing.T) {
	h := start(t, wsevents.Config{}, nil)
	host := h.ts.Listener.Addr().String()

	t.Run("cross-origin refused/gorilla", func(t *testing.T) {
		refused := h.srv.Stats().Refused
		d := websocket.Dialer{Subprotocols: []string{proto}, HandshakeTimeout: wait}
		c, resp, err := d.Dial(h.url, http.Header{"Origin": {"http://evil.example"}})
		if err == nil {
			c.Close()
			t.Fatal("cross-origin handshake accepted")
		}
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
			t.Fatalf("dial error %v, want a refused handshake", err)
		}
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("HTTP %d, want 403", resp.StatusCode)
		}
		if resp.Header.Get("Upgrade") != "" || resp.Header.Get("Sec-WebSocket-Accept") != "" {
			t.Fatalf("refused handshake carries upgrade headers: %v", resp.Header)
		}
		if h.srv.Stats().Refused != refused+1 || h.srv.Len() != 0 {
			t.Fatalf("Stats after refusal: %+v", h.srv.Stats())
		}
	})
	t.Run("cross-origin refused/coder", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		c, resp, err := coder.Dial(ctx, h.url, &coder.DialOptions{
			Subprotocols: []string{proto},
			HTTPHeader:   http.Header{"Origin": {"https://" + host + ".evil.example"}},
		})
		if err == nil {
			c.CloseNow()
			t.Fatal("cross-origin handshake accepted")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial error %v, want HTTP 403", err)
		}
	})
	t.Run("cross-origin refused/raw", func(t *testing.T) {
		resp := dialRawExpectingRefusal(t, h, "Origin: http://evil.example\r\n")
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("HTTP %d, want 403", resp.StatusCode)
		}
	})
	t.Run("same host accepted/gorilla", func(t *testing.T) {
		c := dialGorilla(t, h, websocket.Dialer{Subprotocols: []string{proto}}, http.Header{"Origin": {"http://" + host}})
		h.next(t)
		if c.Subprotocol() != proto {
			t.Fatalf("subprotocol %q", c.Subprotocol())
		}
	})
	t.Run("same host accepted/coder", func(t *testing.T) {
		c := dialCoder(t, h, &coder.DialOptions{Subprotocols: []string{proto}, HTTPHeader: http.Header{"Origin": {"https://" + host}}})
		sc := h.next(t)
		sc.Emit("hi", "there")
		if m := coderReadMsg(t, c); m.name != "hi" || m.payload != "there" {
			t.Fatalf("got %v", m)
		}
	})
}
