package thirdparty

import (
	"bytes"
	"compress/flate"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
)

// deflate compresses p as one permessage-deflate message (RFC 7692 7.2.1).
func deflate(t testing.TB, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(p)
	w.Flush()
	out := buf.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatal("flush did not end in an empty stored block")
	}
	return out[:len(out)-4]
}

func inflate(t testing.TB, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func echoServer(t testing.TB, cfg wsevents.Config) *harness {
	return start(t, cfg, func(c wsevents.Connection) {
		c.On("echo", func(m wsevents.Message) { c.Emit("echo", m) }) // Message keeps its kind
		c.OnMessage(func(m wsevents.Message) { c.EmitMessage(m) })
	})
}

func TestCompressionGorilla(t *testing.T) {
	h := echoServer(t, wsevents.Config{EnableCompression: true})
	text := strings.Repeat("compress me, ", 40) // > 128 bytes
	bin := append(bytes.Repeat([]byte{0, 0xff, 7}, 100), randomBytes(200)...)

	for _, mode := range []string{"event", "native"} {
		t.Run(mode, func(t *testing.T) {
			d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: wait}
			if mode == "event" {
				d.Subprotocols = []string{proto}
			}
			c, resp, err := d.Dial(h.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			h.next(t)
			mustContain(t, "Sec-WebSocket-Extensions", resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
			c.EnableWriteCompression(true)
			for _, tc := range []struct {
				typ int
				p   []byte
			}{
				{websocket.TextMessage, []byte(text)},
				{websocket.BinaryMessage, bin},
				{websocket.TextMessage, []byte("short")}, // under the threshold: sent plain
				{websocket.BinaryMessage, []byte{1, 2, 3}},
			} {
				msg := tc.p
				if mode == "event" {
					kind := byte('t')
					if tc.typ == websocket.BinaryMessage {
						kind = 'b'
					}
					msg = enc('e', kind, 0, "echo", string(tc.p))
				}
				gorillaSend(t, c, tc.typ, msg)
				typ, got := gorillaRead(t, c)
				if typ != tc.typ || !bytes.Equal(got, msg) {
					t.Fatalf("echo of %d (%d bytes) = %d (%d bytes) %q", tc.typ, len(msg), typ, len(got), trunc(got))
				}
			}
		})
	}
}

// coder/websocket with context takeover: the server must keep the client's
// window between messages.
func TestCompressionCoderContextTakeover(t *testing.T) {
	h := echoServer(t, wsevents.Config{EnableCompression: true})
	c := dialCoder(t, h, &coder.DialOptions{Subprotocols: []string{proto}, CompressionMode: coder.CompressionContextTakeover})
	h.next(t)
	line := strings.Repeat("the same words again and again ", 20)
	for i := 0; i < 5; i++ {
		msg := event("echo", line+string(rune('a'+i)))
		coderSend(t, c, coder.MessageText, msg)
		if typ, got := coderRead(t, c); typ != coder.MessageText || !bytes.Equal(got, msg) {
			t.Fatalf("message %d: echo = %v %q", i, typ, trunc(got))
		}
	}
	bin := enc('e', 'b', 0, "echo", string(randomBytes(1000)))
	coderSend(t, c, coder.MessageBinary, bin)
	if typ, got := coderRead(t, c); typ != coder.MessageBinary || !bytes.Equal(got, bin) {
		t.Fatalf("binary echo = %v %q", typ, trunc(got))
	}
}

// On the wire: a big server message is compressed (RSV1), a small one not,
// and compressed client frames, fragmented or not, are inflated.
func TestCompressionRaw(t *testing.T) {
	h := echoServer(t, wsevents.Config{EnableCompression: true})
	rc := dialRaw(t, h, "Sec-WebSocket-Protocol: "+proto+"\r\nSec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n", nil)
	h.next(t)
	ext := rc.resp.Header.Get("Sec-WebSocket-Extensions")
	mustContain(t, "Sec-WebSocket-Extensions", ext, "permessage-deflate")
	mustContain(t, "Sec-WebSocket-Extensions", ext, "server_no_context_takeover")

	big := event("echo", strings.Repeat("0123456789", 50))
	rc.write(clientFrame(fin|rsv1, opText, deflate(t, big)))
	f := rc.readData()
	if f.rsv != rsv1 || f.op != opText {
		t.Fatalf("big echo: rsv %#x op %d, want a compressed text frame", f.rsv, f.op)
	}
	if got := inflate(t, f.payload); !bytes.Equal(got, big) {
		t.Fatalf("inflated echo %q", trunc(got))
	}

	// Compressed, in fragments (RSV1 on the first only).
	comp := deflate(t, big)
	rc.write(clientFrame(rsv1, opText, comp[:10]))
	rc.write(clientFrame(0, opCont, comp[10:20]))
	rc.write(clientFrame(fin, opCont, comp[20:]))
	if got := inflate(t, rc.readData().payload); !bytes.Equal(got, big) {
		t.Fatalf("inflated echo %q", trunc(got))
	}

	// An uncompressed frame on a deflate connection, and a small reply.
	small := event("echo", "tiny")
	rc.write(clientFrame(fin, opText, small))
	f = rc.readData()
	if f.rsv != 0 || !bytes.Equal(f.payload, small) {
		t.Fatalf("small echo: rsv %#x %q, want it uncompressed", f.rsv, f.payload)
	}
}

func TestDecompressionLimits(t *testing.T) {
	const limit = 64 << 10
	h := echoServer(t, wsevents.Config{EnableCompression: true, MaxMessageSize: limit})
	dial := func(t *testing.T) *rawConn {
		rc := dialRaw(t, h, "Sec-WebSocket-Protocol: "+proto+"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n", nil)
		mustContain(t, "Sec-WebSocket-Extensions", rc.resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		return rc
	}

	t.Run("bomb 1009", func(t *testing.T) {
		rc := dial(t)
		sc := h.next(t)
		bomb := deflate(t, append(event("echo", ""), bytes.Repeat([]byte{'a'}, 1<<20)...))
		if len(bomb) > 2<<10 {
			t.Fatalf("bomb is %d bytes compressed", len(bomb))
		}
		rc.write(clientFrame(fin|rsv1, opText, bomb))
		if code := rc.closeCode(); code != 1009 {
			t.Fatalf("close %d, want 1009", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("bomb in fragments 1009", func(t *testing.T) {
		rc := dial(t)
		sc := h.next(t)
		bomb := deflate(t, append(event("echo", ""), bytes.Repeat([]byte{'a'}, 1<<20)...))
		rc.write(clientFrame(rsv1, opBinary, bomb[:len(bomb)/2]))
		rc.write(clientFrame(fin, opCont, bomb[len(bomb)/2:]))
		if code := rc.closeCode(); code != 1009 {
			t.Fatalf("close %d, want 1009", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("just under the limit", func(t *testing.T) {
		rc := dial(t)
		h.next(t)
		m := event("echo", "")
		m = append(m, bytes.Repeat([]byte{'b'}, limit-len(m))...)
		rc.write(clientFrame(fin|rsv1, opText, deflate(t, m)))
		if got := inflate(t, rc.readData().payload); !bytes.Equal(got, m) {
			t.Fatalf("echo of %d bytes came back as %d", len(m), len(got))
		}
	})
	t.Run("invalid UTF-8 after inflate 1007", func(t *testing.T) {
		rc := dial(t)
		sc := h.next(t)
		rc.write(clientFrame(fin|rsv1, opText, deflate(t, append(event("echo", strings.Repeat("ok", 100)), 0xff))))
		if code := rc.closeCode(); code != 1007 {
			t.Fatalf("close %d, want 1007", code)
		}
		h.waitGone(t, sc.ID())
	})
	t.Run("corrupt deflate data 1002", func(t *testing.T) {
		rc := dial(t)
		sc := h.next(t)
		rc.write(clientFrame(fin|rsv1, opText, []byte{0xff, 0xff, 0xff, 0xff, 0xff}))
		if code := rc.closeCode(); code != 1002 {
			t.Fatalf("close %d, want 1002", code)
		}
		h.waitGone(t, sc.ID())
	})
}
