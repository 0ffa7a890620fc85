package wsevents

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// serveListener runs s.Serve on a loopback listener; the cleanup shuts s
// down and checks that Serve returned ErrServerClosed.
func serveListener(t *testing.T, s *Server) (addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveListenerOn(t, s, ln)
}

func serveListenerOn(t *testing.T, s *Server, ln net.Listener) string {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		if err := within(t, done, "Serve to return after Shutdown"); !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v after Shutdown, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// sendRaw writes req on a new connection and reads the HTTP answer.
func sendRaw(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no HTTP answer to %.40q: %v", req, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !resp.Close {
		t.Errorf("answer to %.40q without Connection: close", req)
	}
	if int(resp.ContentLength) != len(body) {
		t.Errorf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
	}
	return resp
}

// Serve speaks the protocol as ServeHTTP does: events both ways, frames
// sent in the same write as the handshake, the request's URL, headers and
// remote address for the connection.
func TestServeListener(t *testing.T) {
	s := New(Config{})
	s.OnConnection(func(c Connection) {
		r := c.Request()
		c.Emit("hello", r.URL.Path+"|"+r.URL.Query().Get("u")+"|"+r.Header.Get("X-Tenant")+"|"+boolText(r.RemoteAddr != "" && r.TLS == nil))
		c.On("echo", func(m string) { c.Emit("echo", m) })
	})
	addr := serveListener(t, s)

	c := dialEvents(t, "ws://"+addr+"/lobby?u=7")
	c.expect("et:hello\n/lobby|7||true")
	c.send("et:echo\nhi")
	c.expect("et:echo\nhi")

	// A frame in the handshake's own write is not lost.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var frame strings.Builder
	wsutil.WriteClientText(writerFunc(func(p []byte) (int, error) { return frame.Write(p) }), []byte("et:echo\nearly"))
	req := "GET /x HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + Subprotocol + "\r\nX-Tenant: t1\r\n\r\n"
	if _, err := io.WriteString(conn, req+frame.String()); err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	rc := struct {
		io.Reader
		io.Writer
	}{br, conn}
	for _, want := range []string{"et:hello\n/x||t1|true", "et:echo\nearly"} {
		data, _, err := wsutil.ReadServerData(rc)
		if err != nil || string(data) != want {
			t.Fatalf("got %q (%v), want %q", data, err, want)
		}
	}
	if got := s.Stats().Accepted; got != 2 {
		t.Fatalf("Stats().Accepted = %d, want 2", got)
	}
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// What is not a WebSocket handshake gets an HTTP answer and a closed
// connection: Config.Error's for a plain request (426) or a refused origin (403), 400
// for what does not parse, 431 for headers past MaxHandshakeBytes.
func TestServeListenerRefusals(t *testing.T) {
	var statuses []int
	s := New(Config{Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
		statuses = append(statuses, status)
		w.Header().Set("X-Refused", "yes")
		http.Error(w, "refused: "+reason.Error(), status)
	}})
	addr := serveListener(t, s)
	upgrade := "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

	resp := sendRaw(t, addr, "GET /chat HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("X-Refused") != "yes" || resp.Header.Get("Sec-WebSocket-Version") != "13" {
		t.Errorf("plain GET: %d %v, want Config.Error's 426 with Sec-WebSocket-Version", resp.StatusCode, resp.Header)
	}
	resp = sendRaw(t, addr, "GET /chat HTTP/1.1\r\nHost: "+addr+"\r\nOrigin: http://evil.example\r\n"+upgrade+"\r\n")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: %d, want 403", resp.StatusCode)
	}
	resp = sendRaw(t, addr, "HELLO\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("garbage: %d, want 400", resp.StatusCode)
	}
	resp = sendRaw(t, addr, "GET /chat HTTP/1.1\r\nHost: "+addr+"\r\nX-Big: "+strings.Repeat("a", MaxHandshakeBytes)+"\r\n"+upgrade+"\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: %d, want 431", resp.StatusCode)
	}
	if len(statuses) != 2 || statuses[0] != 426 || statuses[1] != 403 {
		t.Errorf("Config.Error saw %v, want [426 403]", statuses)
	}
	if got := s.Stats().Refused; got != 4 {
		t.Errorf("Stats().Refused = %d, want 4", got)
	}
}

// A client that sends half its request and stalls is closed after
// HandshakeTimeout; Shutdown closes one still within it, and a listener
// handed to Serve after Shutdown is closed at once.
func TestServeListenerHandshakeTimeoutAndShutdown(t *testing.T) {
	s := New(Config{HandshakeTimeout: 200 * time.Millisecond})
	addr := serveListener(t, s)
	half := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		io.WriteString(conn, "GET /chat HTTP/1.1\r\nHost: "+addr+"\r\n")
		return conn
	}
	conn := half()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Fatalf("stalled handshake not closed by the server: %v", err)
	}

	s2 := New(Config{HandshakeTimeout: time.Hour})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s2.Serve(ln) }()
	addr = ln.Addr().String()
	conn = half()
	waitFor(t, "the handshake to be tracked", func() bool {
		s2.lnMu.Lock()
		defer s2.lnMu.Unlock()
		return len(s2.listeners) == 2
	})
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := within(t, served, "Serve to return"); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v, want ErrServerClosed", err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("Shutdown left a handshake open: %v", err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Serve(ln2); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	if _, err := ln2.Accept(); err == nil {
		t.Fatal("Serve after Shutdown left its listener open")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Over a tls.Listener the connection's Request has TLS set.
func TestServeListenerTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{})
	s.OnConnection(func(c Connection) { c.Emit("tls", boolText(c.Request().TLS != nil)) })
	addr := serveListenerOn(t, s, ln)

	pool := x509.NewCertPool()
	leaf, _ := x509.ParseCertificate(der)
	pool.AddCert(leaf)
	d := ws.Dialer{Protocols: []string{Subprotocol}, TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second}
	conn, _, _, err := d.Dial(context.Background(), "wss://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	data, _, err := wsutil.ReadServerData(conn)
	if err != nil || string(data) != "et:tls\ntrue" {
		t.Fatalf("got %q (%v), want et:tls\\ntrue", data, err)
	}
}
