package wsevents

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// waitGoroutines waits until no goroutine runs code of this package (other
// than the test runner's), and reports the stacks of those that remain.
func waitGoroutines() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		leaked := leakedGoroutines()
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "wsevents/core.") && !strings.Contains(g, "testing.tRunner") &&
			!strings.Contains(g, "leakedGoroutines") && !strings.Contains(g, "main.main") {
			leaked = append(leaked, g)
		}
	}
	return leaked
}

// testServer serves s on a real loopback listener and returns its ws:// URL.
func testServer(t testing.TB, s *Server) string {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		ts.Close()
	})
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

// client is a gobwas-based test peer.
type client struct {
	t    testing.TB
	conn net.Conn
	hs   ws.Handshake
}

func dial(t testing.TB, url string, protocols ...string) *client {
	t.Helper()
	d := ws.Dialer{Protocols: protocols, Timeout: 5 * time.Second}
	conn, br, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if br != nil {
		// Frames that arrived with the handshake response.
		conn = &prefixedConn{Conn: conn, r: io.MultiReader(br, conn)}
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, hs: hs}
}

func dialEvents(t testing.TB, url string) *client { return dial(t, url, Subprotocol) }

func (c *client) send(msg string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, []byte(msg)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// read returns the next data message, answering pings on the way.
func (c *client) read() (ws.OpCode, string) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	data, op, err := wsutil.ReadServerData(c.conn)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return op, string(data)
}

func (c *client) expect(want string) {
	c.t.Helper()
	if _, got := c.read(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// closeCode reads until the server's close frame and returns its code.
func (c *client) closeCode() StatusCode {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		h, err := ws.ReadHeader(c.conn)
		if err != nil {
			c.t.Fatalf("no close frame: %v", err)
		}
		p := make([]byte, h.Length)
		if _, err := ioReadFull(c.conn, p); err != nil {
			c.t.Fatalf("no close frame: %v", err)
		}
		if h.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(p)
			return StatusCode(code)
		}
	}
}

func ioReadFull(conn net.Conn, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := conn.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// waitFor polls cond for up to 5 s; it replaces sleeps, never asserts timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawHandshake opens a TCP connection and upgrades it by hand.
func rawHandshake(t testing.TB, url string, header http.Header) (net.Conn, *http.Response) {
	t.Helper()
	addr := strings.TrimPrefix(strings.TrimPrefix(url, "ws://"), "http://")
	path := "/"
	if i := strings.IndexByte(addr, '/'); i >= 0 {
		addr, path = addr[:i], addr[i:]
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", path, addr)
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	// Read the response byte by byte so no frame byte is consumed.
	var head []byte
	one := make([]byte, 1)
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		if _, err := conn.Read(one); err != nil {
			t.Fatalf("handshake response: %v (%q)", err, head)
		}
		head = append(head, one[0])
	}
	resp, err := http.ReadResponse(bufioReader(head), nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn, resp
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }

// netDialNoRead sends a handshake and never reads, with a small receive
// buffer so the server's response write blocks.
func netDialNoRead(url string) (net.Conn, error) {
	addr := strings.TrimPrefix(url, "ws://")
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { setReceiveBuffer(fd, 4096) })
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	return conn, err
}

func bufioReaderConn(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func readAllFlate(p []byte) ([]byte, error) {
	fr := flate.NewReader(bytes.NewReader(p))
	out, err := io.ReadAll(fr)
	if err == io.ErrUnexpectedEOF {
		err = nil
	}
	return out, err
}

type prefixedConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
