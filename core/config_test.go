package wsevents

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
)

// maskedFrame builds a client frame by hand, for frames real clients refuse
// to send.
func maskedFrame(b0 byte, payload []byte, declared int) []byte {
	var f []byte
	switch {
	case declared <= 125:
		f = []byte{b0, 0x80 | byte(declared)}
	case declared <= 0xFFFF:
		f = []byte{b0, 0x80 | 126, 0, 0}
		binary.BigEndian.PutUint16(f[2:], uint16(declared))
	default:
		f = make([]byte, 10)
		f[0], f[1] = b0, 0x80|127
		binary.BigEndian.PutUint64(f[2:], uint64(declared))
	}
	mask := [4]byte{1, 2, 3, 4}
	f = append(f, mask[:]...)
	p := append([]byte(nil), payload...)
	ws.Cipher(p, mask, 0)
	return append(f, p...)
}

func TestHandshakeTimeout(t *testing.T) {
	s := New(Config{HandshakeTimeout: 100 * time.Millisecond})
	connected := make(chan struct{}, 1)
	s.OnConnection(func(Connection) { connected <- struct{}{} })
	// A middleware header large enough that the 101 response cannot be
	// written to a client that does not read.
	big := strings.Repeat("x", 8<<20)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", big)
		s.ServeHTTP(w, r)
	}))
	defer ts.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http")
	conn, err := netDialNoRead(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	waitFor(t, "refused upgrade", func() bool { return s.Stats().Refused == 1 })
	select {
	case <-connected:
		t.Fatal("connection accepted")
	default:
	}
}

func TestMiddlewareHeadersReachResponse(t *testing.T) {
	s := New(Config{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Session", "abc")
		// What a gzip middleware sets before the handler runs: a 101
		// has no body, so none of it may go out.
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "text/plain")
		s.ServeHTTP(w, r)
	}))
	defer ts.Close()
	_, resp := rawHandshake(t, "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if resp.Header.Get("X-Session") != "abc" {
		t.Fatalf("header lost: %v", resp.Header)
	}
	for _, k := range []string{"Content-Encoding", "Content-Type"} {
		if v := resp.Header.Get(k); v != "" {
			t.Fatalf("101 carries body header %s: %q", k, v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.Shutdown(ctx)
}

func TestWriteTimeoutClosesStalledReader(t *testing.T) {
	s := New(Config{WriteTimeout: 100 * time.Millisecond, SlowConsumer: SlowConsumerDrop,
		MaxQueuedBytes: 1 << 30, MaxQueuedMessages: 1 << 20})
	conns := make(chan Connection, 1)
	gone := make(chan struct{})
	s.OnConnection(func(c Connection) {
		c.OnDisconnect(func() { close(gone) })
		conns <- c
	})
	stalled, err := netDialNoRead(testServer(t, s)) // never reads, small receive buffer
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	c := <-conns
	big := make([]byte, 1<<20)
	deadline := time.After(10 * time.Second)
	for closed := false; !closed; {
		c.EmitMessage(big)
		select {
		case <-gone:
			closed = true
		case <-deadline:
			t.Fatal("stalled reader not closed by WriteTimeout")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if code := CloseStatus(connErr(c)); code != StatusAbnormal {
		t.Fatalf("close status %d", code)
	}
}

func connErr(c Connection) error { return c.closeErr() }

func TestReadTimeoutSlowSender(t *testing.T) {
	s := New(Config{ReadTimeout: 100 * time.Millisecond})
	conn, _ := rawHandshake(t, testServer(t, s), nil)
	frame := maskedFrame(0x81, bytes.Repeat([]byte("a"), 100), 100)
	conn.Write(frame[:20]) // header and a few bytes, then stall
	cl := &client{t: t, conn: conn}
	if code := cl.closeCode(); code != StatusPolicyViolation {
		t.Fatalf("close %d, want 1008", code)
	}
}

func TestKeepalive(t *testing.T) {
	s := New(Config{PingPeriod: 100 * time.Millisecond, PongTimeout: 400 * time.Millisecond})
	pongs := make(chan struct{}, 100)
	s.OnConnection(func(c Connection) {
		c.OnPong(func() { pongs <- struct{}{} })
		c.On("later", func() {
			time.AfterFunc(900*time.Millisecond, func() { c.Emit("now", nil) })
		})
	})
	url := testServer(t, s)

	silent, _ := rawHandshake(t, url, nil)
	if code := (&client{t: t, conn: silent}).closeCode(); code != StatusGoingAway {
		t.Fatalf("silent peer closed with %d, want 1001", code)
	}

	alive := dialEvents(t, url)
	alive.send("ej:later\nnull")
	alive.expect("ej:now\nnull") // read answers pings meanwhile
	if len(pongs) == 0 {
		t.Fatal("no pong seen")
	}
	alive.send("ej:later\nnull")
	alive.expect("ej:now\nnull")
}

func TestMaxMessageSize(t *testing.T) {
	s := New(Config{MaxMessageSize: 100})
	url := testServer(t, s)
	one := dialEvents(t, url)
	one.send("et:x\n" + strings.Repeat("a", 96))
	if code := one.closeCode(); code != StatusMessageTooBig {
		t.Fatalf("single frame: close %d, want 1009", code)
	}
	frag, _ := rawHandshake(t, url, nil)
	part := bytes.Repeat([]byte("a"), 40)
	frag.Write(maskedFrame(0x01, part, 40)) // text, not final
	frag.Write(maskedFrame(0x00, part, 40))
	frag.Write(maskedFrame(0x80, part, 40))
	if code := (&client{t: t, conn: frag}).closeCode(); code != StatusMessageTooBig {
		t.Fatalf("fragments: close %d, want 1009", code)
	}
	ok := dialEvents(t, url)
	s.OnConnection(func(c Connection) {})
	ok.send("aj1:nope\n" + strings.Repeat("1", 80))
	if _, got := ok.read(); !strings.HasPrefix(got, "xt1:") {
		t.Fatalf("message under the limit: %q", got)
	}
}

func TestBinaryMessages(t *testing.T) {
	s := New(Config{BinaryMessages: true})
	s.OnConnection(func(c Connection) { c.Emit("hi", "text") })
	cl := dialEvents(t, testServer(t, s))
	if op, got := cl.read(); op != ws.OpBinary || got != "et:hi\ntext" {
		t.Fatalf("%v %q", op, got)
	}
}

func TestSmallBuffers(t *testing.T) {
	for _, size := range []int{64, 100, 4096} {
		s := New(Config{ReadBufferSize: size, WriteBufferSize: size})
		s.OnConnection(func(c Connection) {
			c.On("echo", func(m Message) { c.Emit("echo", m) })
		})
		cl := dialEvents(t, testServer(t, s))
		for _, n := range []int{0, 10, size - 10, size, 3 * size, 70000} {
			payload := strings.Repeat("é", n/2)
			cl.send("et:echo\n" + payload)
			cl.expect("et:echo\n" + payload)
		}
	}
}

func TestPipelinedBytesAfterHandshake(t *testing.T) {
	s := New(Config{})
	s.OnConnection(func(c Connection) {
		c.On("a", func(m string) { c.Emit("a", m) })
	})
	url := testServer(t, s)
	addr := strings.TrimPrefix(url, "ws://")
	conn, err := netDial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wsevents.v1\r\n\r\n"
	msg := append([]byte(req), maskedFrame(0x81, []byte("et:a\nfirst"), 10)...)
	msg = append(msg, maskedFrame(0x81, []byte("et:a\nsecond"), 11)...)
	conn.Write(msg) // handshake and two frames in one write
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufioReaderConn(conn)
	if _, err := http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"et:a\nfirst", "et:a\nsecond"} {
		got, err := wsutil.ReadServerText(struct {
			io.Reader
			io.Writer
		}{br, conn})
		if err != nil || string(got) != want {
			t.Fatalf("%q %v, want %q", got, err, want)
		}
	}
}

func TestCompressionNegotiatedAndRoundTrip(t *testing.T) {
	s := New(Config{EnableCompression: true})
	s.OnConnection(func(c Connection) {
		c.On("echo", func(m Message) { c.Emit("echo", m) })
	})
	url := testServer(t, s)
	ext := wsflate.Extension{Parameters: wsflate.Parameters{ClientNoContextTakeover: true, ServerNoContextTakeover: true}}
	d := ws.Dialer{Protocols: []string{Subprotocol}, Extensions: []httphead.Option{ext.Parameters.Option()}}
	conn, _, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if len(hs.Extensions) != 1 || string(hs.Extensions[0].Name) != "permessage-deflate" {
		t.Fatalf("extension not negotiated: %v", hs.Extensions)
	}
	payload := "et:echo\n" + strings.Repeat("compress me ", 100)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestSpeed)
	fw.Write([]byte(payload))
	fw.Flush()
	body := bytes.TrimSuffix(comp.Bytes(), deflateTail)
	conn.Write(maskedFrame(0x80|0x40|0x01, body, len(body)))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	h, err := ws.ReadHeader(conn)
	if err != nil {
		t.Fatal(err)
	}
	if h.Rsv1() == false || h.OpCode != ws.OpText {
		t.Fatalf("reply not compressed: %+v", h)
	}
	p := make([]byte, h.Length)
	ioReadFull(conn, p)
	out, err := readAllFlate(append(p, deflateTail...))
	if err != nil || string(out) != payload {
		t.Fatalf("decompressed %q %v", out, err)
	}

	// Without EnableCompression the offer is declined.
	plain := New(Config{})
	conn2, _, hs2, err := d.Dial(context.Background(), testServer(t, plain))
	if err != nil {
		t.Fatal(err)
	}
	conn2.Close()
	if len(hs2.Extensions) != 0 {
		t.Fatal("compression negotiated while disabled")
	}
}
