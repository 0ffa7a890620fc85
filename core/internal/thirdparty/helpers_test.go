package thirdparty

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
)

// wait bounds every blocking step of a test: nothing may hang.
const wait = 5 * time.Second

const proto = wsevents.Subprotocol // "wsevents.v1"

// quiet is a logger for tests that provoke panics and errors on purpose.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// harness is a wsevents Server on a real loopback listener.
type harness struct {
	srv   *wsevents.Server
	ts    *httptest.Server
	url   string // ws://127.0.0.1:port/
	conns chan wsevents.Connection
}

// start serves a Server configured by cfg; setup runs for each connection
// inside OnConnection, which then hands the connection to h.conns.
func start(t testing.TB, cfg wsevents.Config, setup func(c wsevents.Connection)) *harness {
	t.Helper()
	return startOn(t, cfg, setup, nil)
}

// startOn is start with a hook to wrap the listener.
func startOn(t testing.TB, cfg wsevents.Config, setup func(c wsevents.Connection), wrap func(net.Listener) net.Listener) *harness {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	h := &harness{srv: wsevents.New(cfg), conns: make(chan wsevents.Connection, 64)}
	h.srv.OnConnection(func(c wsevents.Connection) {
		if setup != nil {
			setup(c)
		}
		select {
		case h.conns <- c:
		default:
		}
	})
	h.ts = httptest.NewUnstartedServer(h.srv)
	if wrap != nil {
		h.ts.Listener = wrap(h.ts.Listener)
	}
	h.ts.Start()
	h.url = "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- h.srv.Shutdown(ctx) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("cleanup: Shutdown: %v (a connection did not end)", err)
			}
		case <-time.After(2 * wait):
			t.Error("cleanup: Shutdown hangs (server deadlocked?)")
			return
		}
		h.ts.Close()
	})
	return h
}

// next returns the next connection the server accepted.
func (h *harness) next(t testing.TB) wsevents.Connection {
	t.Helper()
	select {
	case c := <-h.conns:
		return c
	case <-time.After(wait):
		t.Fatal("no connection reached OnConnection")
		return nil
	}
}

// waitGone waits until the connection with this ID has left the server.
func (h *harness) waitGone(t testing.TB, id string) {
	t.Helper()
	eventually(t, "connection "+id+" gone from the server", func() bool {
		_, ok := h.srv.Get(id)
		return !ok
	})
}

// eventually polls cond until it holds or the wait bound passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ---- gorilla/websocket ----

func dialGorilla(t testing.TB, h *harness, d websocket.Dialer, hdr http.Header) *websocket.Conn {
	t.Helper()
	if d.HandshakeTimeout == 0 {
		d.HandshakeTimeout = wait
	}
	c, resp, err := d.Dial(h.url, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("gorilla dial: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// gorillaEvents dials in event mode.
func gorillaEvents(t testing.TB, h *harness) *websocket.Conn {
	t.Helper()
	c := dialGorilla(t, h, websocket.Dialer{Subprotocols: []string{proto}}, nil)
	if c.Subprotocol() != proto {
		t.Fatalf("gorilla: subprotocol %q, want %q", c.Subprotocol(), proto)
	}
	return c
}

func gorillaSend(t testing.TB, c *websocket.Conn, typ int, p []byte) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(wait))
	if err := c.WriteMessage(typ, p); err != nil {
		t.Fatalf("gorilla write: %v", err)
	}
}

// gorillaRead reads the next data message.
func gorillaRead(t testing.TB, c *websocket.Conn) (int, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	typ, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("gorilla read: %v", err)
	}
	return typ, p
}

// gorillaReadMsg reads and decodes the next wsevents message.
func gorillaReadMsg(t testing.TB, c *websocket.Conn) wmsg {
	t.Helper()
	_, p := gorillaRead(t, c)
	m, err := dec(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// gorillaCloseCode reads until the connection ends and returns the close
// code of the server's close frame (gorilla answers it by itself).
func gorillaCloseCode(t testing.TB, c *websocket.Conn) int {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		t.Fatalf("gorilla: connection ended without a close frame: %v", err)
	}
}

// ---- coder/websocket ----

func dialCoder(t testing.TB, h *harness, opts *coder.DialOptions) *coder.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := coder.Dial(ctx, h.url, opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("coder dial: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func coderEvents(t testing.TB, h *harness) *coder.Conn {
	t.Helper()
	c := dialCoder(t, h, &coder.DialOptions{Subprotocols: []string{proto}})
	if c.Subprotocol() != proto {
		t.Fatalf("coder: subprotocol %q, want %q", c.Subprotocol(), proto)
	}
	return c
}

func coderSend(t testing.TB, c *coder.Conn, typ coder.MessageType, p []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Write(ctx, typ, p); err != nil {
		t.Fatalf("coder write: %v", err)
	}
}

func coderRead(t testing.TB, c *coder.Conn) (coder.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	typ, p, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("coder read: %v", err)
	}
	return typ, p
}

func coderReadMsg(t testing.TB, c *coder.Conn) wmsg {
	t.Helper()
	_, p := coderRead(t, c)
	m, err := dec(p)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// coderCloseCode reads until the connection ends and returns the close code
// coder reports (-1 when it saw no close frame).
func coderCloseCode(t testing.TB, c *coder.Conn) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		code := int(coder.CloseStatus(err))
		if code < 0 {
			t.Fatalf("coder: connection ended without a close frame: %v", err)
		}
		return code
	}
}

// ---- raw sockets, for frames no well-behaved client sends ----

type rawConn struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	resp *http.Response

	reason string // of the last close frame closeCode read
}

// rawRequest builds an upgrade request; extra header lines end in CRLF.
func rawRequest(host, extra string) string {
	key := make([]byte, 16)
	rand.Read(key)
	return "GET / HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		extra + "\r\n"
}

// dialRaw does the upgrade by hand. extra holds header lines ("Name: v\r\n");
// pipelined bytes go out in the same write as the request.
func dialRaw(t testing.TB, h *harness, extra string, pipelined []byte) *rawConn {
	t.Helper()
	return dialRawWith(t, h, &net.Dialer{Timeout: wait}, extra, pipelined)
}

func dialRawWith(t testing.TB, h *harness, d *net.Dialer, extra string, pipelined []byte) *rawConn {
	t.Helper()
	host := h.ts.Listener.Addr().String()
	conn, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	req := rawRequest(host, extra)
	conn.SetDeadline(time.Now().Add(wait))
	if _, err := conn.Write(append([]byte(req), pipelined...)); err != nil {
		t.Fatalf("raw handshake write: %v", err)
	}
	rc := &rawConn{t: t, conn: conn, br: bufio.NewReader(conn)}
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		t.Fatalf("raw handshake read: %v", err)
	}
	resp.Body.Close()
	rc.resp = resp
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("raw handshake: HTTP %d, want 101", resp.StatusCode)
	}
	keyLine := req[strings.Index(req, "Sec-WebSocket-Key: ")+len("Sec-WebSocket-Key: "):]
	key := keyLine[:strings.Index(keyLine, "\r\n")]
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("raw handshake: Sec-WebSocket-Accept %q, want %q", got, want)
	}
	conn.SetDeadline(time.Time{})
	return rc
}

const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
	rsv1     = 0x40
	rsv2     = 0x20
)

// frame encodes one frame; flags holds FIN (0x80) and RSV bits.
func frame(flags, op byte, payload []byte, masked bool) []byte {
	b := []byte{flags | op}
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		b = append(b, maskBit|byte(n))
	case n <= 0xFFFF:
		b = append(b, maskBit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, maskBit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i&3])
	}
	return b
}

const fin = 0x80

// clientFrame is a well-formed masked frame.
func clientFrame(flags, op byte, payload []byte) []byte { return frame(flags, op, payload, true) }

func (rc *rawConn) write(p []byte) {
	rc.t.Helper()
	rc.conn.SetWriteDeadline(time.Now().Add(wait))
	if _, err := rc.conn.Write(p); err != nil {
		rc.t.Fatalf("raw write: %v", err)
	}
}

type rframe struct {
	fin     bool
	rsv     byte
	op      byte
	payload []byte
}

// readFrame reads one server frame; servers never mask.
func (rc *rawConn) readFrame() (rframe, error) {
	rc.conn.SetReadDeadline(time.Now().Add(wait))
	var hdr [2]byte
	if _, err := io.ReadFull(rc.br, hdr[:]); err != nil {
		return rframe{}, err
	}
	f := rframe{fin: hdr[0]&0x80 != 0, rsv: hdr[0] & 0x70, op: hdr[0] & 0x0F}
	if hdr[1]&0x80 != 0 {
		return rframe{}, fmt.Errorf("server frame is masked")
	}
	n := uint64(hdr[1] & 0x7F)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(rc.br, ext[:]); err != nil {
			return rframe{}, err
		}
		n = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(rc.br, ext[:]); err != nil {
			return rframe{}, err
		}
		n = binary.BigEndian.Uint64(ext[:])
	}
	if n > 64<<20 {
		return rframe{}, fmt.Errorf("frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(rc.br, f.payload); err != nil {
		return rframe{}, err
	}
	return f, nil
}

// readData reads the next data frame, skipping pings.
func (rc *rawConn) readData() rframe {
	rc.t.Helper()
	for {
		f, err := rc.readFrame()
		if err != nil {
			rc.t.Fatalf("raw read: %v", err)
		}
		switch f.op {
		case opPing, opPong:
			continue
		case opClose:
			rc.t.Fatalf("raw read: close frame %d %q", closeCode(f.payload), f.payload[min(2, len(f.payload)):])
		}
		return f
	}
}

// closeCode reads until the server's close frame, answers it, and returns
// its code. A connection that ends without one fails the test: the server
// must say why it closes.
func (rc *rawConn) closeCode() int {
	rc.t.Helper()
	for {
		f, err := rc.readFrame()
		if err != nil {
			rc.t.Fatalf("raw: connection ended without a close frame: %v", err)
		}
		if f.op != opClose {
			continue
		}
		code := closeCode(f.payload)
		rc.reason = string(f.payload[min(2, len(f.payload)):])
		rc.conn.SetWriteDeadline(time.Now().Add(wait))
		rc.conn.Write(clientFrame(fin, opClose, f.payload[:min(2, len(f.payload))]))
		// The closing handshake is complete: the server closes TCP first
		// (RFC 6455 section 7.1.1), it does not wait for a timeout.
		for {
			if _, err := rc.readFrame(); err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					rc.t.Fatalf("raw: server kept TCP open after the closing handshake (close %d)", code)
				}
				break
			}
		}
		return code
	}
}

func closeCode(p []byte) int {
	if len(p) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(p))
}

// mustContain fails unless s contains sub.
func mustContain(t testing.TB, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Fatalf("%s = %q, want it to contain %q", what, s, sub)
	}
}

func deadline() time.Time { return time.Now().Add(wait) }

// dialRawExpectingRefusal sends an upgrade request and returns the HTTP
// response, which must not be an upgrade.
func dialRawExpectingRefusal(t testing.TB, h *harness, extra string) *http.Response {
	t.Helper()
	host := h.ts.Listener.Addr().String()
	conn, err := net.DialTimeout("tcp", host, wait)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(deadline())
	if _, err := conn.Write([]byte(rawRequest(host, extra))); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the refusal: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "" {
		t.Fatalf("handshake was upgraded: HTTP %d %v", resp.StatusCode, resp.Header)
	}
	return resp
}

func ctxWait() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), wait)
}

// recv receives from ch within the wait bound.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(wait):
		t.Fatal("timed out waiting on a channel")
		var zero T
		return zero
	}
}
