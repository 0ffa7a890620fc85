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

// closedWithin reports whether the server connection closed by the
// handler of message "close" ends within limit while feed runs.
func closedWithin(t *testing.T, limit time.Duration, feed func(cl *client, stop <-chan struct{})) {
	t.Helper()
	s := New(Config{PingPeriod: -1, WriteTimeout: 100 * time.Millisecond})
	ended := make(chan struct{})
	s.OnConnection(func(c Connection) {
		c.OnMessage(func(m Message) {
			if string(m.Data) == "close" {
				c.Close(StatusNormalClosure, "")
			}
		})
		c.OnDisconnect(func() { close(ended) })
	})
	cl := dial(t, testServer(t, s))
	cl.send("close")
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		feed(cl, stop)
	}()
	defer func() { close(stop); <-fed }()
	select {
	case <-ended:
	case <-time.After(limit):
		t.Fatalf("the closing connection still lives %v after our close frame (close deadline %v)", limit, closeWait+100*time.Millisecond)
	}
}

// A peer that never answers our close frame but keeps data coming is cut
// off at the close deadline all the same.
func TestCloseDeadlineUnderFlood(t *testing.T) {
	frame, err := ws.CompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte("flood"))))
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat(frame, 4096)
	closedWithin(t, 3*closeWait, func(cl *client, stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				return
			default:
			}
			cl.conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := cl.conn.Write(chunk); err != nil && !isTimeout(err) {
				return
			}
		}
	})
}

// A frame that arrives in two parts after our close frame does not lift
// the close deadline (the read timeout of a message under way must not
// replace it, nor its end clear it).
func TestCloseDeadlineSurvivesSplitFrame(t *testing.T) {
	frame, err := ws.CompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte("late"))))
	if err != nil {
		t.Fatal(err)
	}
	closedWithin(t, 3*closeWait, func(cl *client, stop <-chan struct{}) {
		time.Sleep(50 * time.Millisecond)
		cl.conn.Write(frame[:3])
		time.Sleep(50 * time.Millisecond)
		cl.conn.Write(frame[3:])
		<-stop
	})
}
