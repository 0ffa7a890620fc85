package wsevents

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Frames that arrive together, split or interleaved with control frames
// and fragments are all answered in order, whichever path reads them (on
// Linux, complete single frames are dispatched inside the read callback
// and the rest by the read loop).
func TestMixedFramesInOrder(t *testing.T) {
	s := New(Config{PingPeriod: -1})
	s.OnConnection(func(c Connection) {
		c.OnMessage(func(m Message) { c.EmitMessage(m) })
	})
	cl := dial(t, testServer(t, s))
	frame := func(f ws.Frame) []byte {
		t.Helper()
		b, err := ws.CompileFrame(ws.MaskFrame(f))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	big := strings.Repeat("x", 300) // a 16-bit length
	var burst bytes.Buffer
	burst.Write(frame(ws.NewTextFrame([]byte("a"))))
	burst.Write(frame(ws.NewPingFrame([]byte("p"))))
	burst.Write(frame(ws.NewTextFrame([]byte("b"))))
	burst.Write(frame(ws.NewFrame(ws.OpText, false, []byte("c"))))
	burst.Write(frame(ws.NewFrame(ws.OpContinuation, true, []byte("d"))))
	burst.Write(frame(ws.NewBinaryFrame([]byte(big))))
	split := frame(ws.NewTextFrame([]byte("split across writes")))
	burst.Write(split[:5])
	if _, err := cl.conn.Write(burst.Bytes()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the server read the first part alone
	if _, err := cl.conn.Write(append(split[5:], frame(ws.NewTextFrame([]byte("z")))...)); err != nil {
		t.Fatal(err)
	}
	cl.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []string
	for len(got) < 7 {
		h, err := ws.ReadHeader(cl.conn)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		p := make([]byte, h.Length)
		if _, err := ioReadFull(cl.conn, p); err != nil {
			t.Fatal(err)
		}
		if h.OpCode == ws.OpPong {
			got = append(got, "pong:"+string(p))
			continue
		}
		got = append(got, string(p))
	}
	want := []string{"a", "pong:p", "b", "cd", big, "split across writes", "z"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reply %d = %.20q, want %.20q (all: %.20q)", i, got[i], want[i], got)
		}
	}
}

// Invalid UTF-8 in a complete text frame fails the connection with 1007
// on every path, and a frame after it is not dispatched.
func TestInvalidTextAmongValidFrames(t *testing.T) {
	got := make(chan string, 4)
	s := New(Config{PingPeriod: -1})
	s.OnConnection(func(c Connection) {
		c.OnMessage(func(m Message) { got <- string(m.Data) })
	})
	cl := dial(t, testServer(t, s))
	var burst bytes.Buffer
	for _, f := range []ws.Frame{
		ws.NewTextFrame([]byte("ok")),
		ws.NewTextFrame([]byte{0xff, 0xfe}),
		ws.NewTextFrame([]byte("never")),
	} {
		b, err := ws.CompileFrame(ws.MaskFrame(f))
		if err != nil {
			t.Fatal(err)
		}
		burst.Write(b)
	}
	if _, err := cl.conn.Write(burst.Bytes()); err != nil {
		t.Fatal(err)
	}
	if code := cl.closeCode(); code != StatusInvalidPayload {
		t.Fatalf("close code %d, want %d", code, StatusInvalidPayload)
	}
	if m := <-got; m != "ok" {
		t.Fatalf("first message %q", m)
	}
	select {
	case m := <-got:
		t.Fatalf("a message after the invalid one was dispatched: %q", m)
	default:
	}
}
