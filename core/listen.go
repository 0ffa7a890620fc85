package wsevents

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The raw-listener path: Serve reads each handshake itself instead of
// going through net/http's server. The request it parses has no server
// context chain (net/http gives each connection and each request a
// cancelable context, a few hundred bytes an upgraded connection keeps
// for its life) and the handshake's buffers go back to a pool as soon as
// the connection is up. After the parse, the request goes through the
// upgrade ServeHTTP uses, so both paths validate, refuse and upgrade alike.

// MaxHandshakeBytes bounds what Serve reads of a handshake request (the
// request line and headers); a larger one is answered 431.
const MaxHandshakeBytes = 64 << 10

// ListenAndServe listens on the TCP address addr and calls Serve. It
// returns ErrServerClosed after Shutdown.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln and serves each as a WebSocket
// connection, whatever the request's path: a listener (a port) given to
// wsevents alone. Use it where no HTTP router is needed in front, for the
// least memory per connection; mount the Server on a router (it is an
// http.Handler) otherwise. A tls.Listener works: the connection's Request
// then has TLS set.
//
// Each connection's handshake is read within Config.HandshakeTimeout and
// MaxHandshakeBytes; a request that is not a WebSocket handshake, or comes
// from a refused origin, gets Config.Error's HTTP answer and the
// connection is closed. Serve closes ln and returns ErrServerClosed when
// Shutdown starts, and the error of ln.Accept if it fails otherwise
// (after retrying temporary errors, such as running out of file
// descriptors, with a backoff).
func (s *Server) Serve(ln net.Listener) error {
	if !s.track(ln, true) {
		ln.Close()
		return ErrServerClosed
	}
	defer s.track(ln, false)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.Logger.Warn("wsevents: accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		go s.serveRaw(nc)
	}
}

// track adds x (a listener of Serve, or a connection whose handshake is
// under way) to what Shutdown closes, or removes it; adding fails once
// Shutdown has begun.
func (s *Server) track(x io.Closer, add bool) bool {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	if !add {
		delete(s.listeners, x)
		return true
	}
	if s.closing.Load() {
		return false
	}
	if s.listeners == nil {
		s.listeners = make(map[io.Closer]struct{})
	}
	s.listeners[x] = struct{}{}
	return true
}

// closeListeners closes what Serve listens on and the connections whose
// handshake is under way (Shutdown).
func (s *Server) closeListeners() {
	s.lnMu.Lock()
	defer s.lnMu.Unlock()
	for x := range s.listeners {
		x.Close()
	}
}

// handshake buffers, pooled across connections.
var (
	handshakeReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	handshakeWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 512) }}
)

// serveRaw reads one handshake from nc and hands it to ServeHTTP.
func (s *Server) serveRaw(nc net.Conn) {
	if !s.track(nc, true) {
		nc.Close()
		return
	}
	if t := s.cfg.HandshakeTimeout; t > 0 {
		nc.SetDeadline(time.Now().Add(t))
	}
	var state *tls.ConnectionState
	if tc, ok := nc.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			s.track(nc, false)
			s.stats.refused.Add(1)
			s.cfg.Logger.Debug("wsevents: TLS handshake failed", "remote", nc.RemoteAddr(), "err", err)
			nc.Close()
			return
		}
		st := tc.ConnectionState()
		state = &st
	}
	lr := &io.LimitedReader{R: nc, N: MaxHandshakeBytes}
	w := &rawResponse{conn: nc, br: handshakeReaders.Get().(*bufio.Reader)}
	w.br.Reset(lr)
	r, err := http.ReadRequest(w.br)
	if err != nil {
		s.track(nc, false)
		s.stats.refused.Add(1)
		status := http.StatusBadRequest
		if lr.N <= 0 {
			status = http.StatusRequestHeaderFieldsTooLarge
		}
		if !errors.Is(err, io.EOF) { // a client that sent nothing gets nothing
			w.WriteHeader(status)
			fmt.Fprintf(w, "wsevents: bad handshake request: %v\n", err)
			w.finish()
		}
		w.release()
		nc.Close()
		s.cfg.Logger.Debug("wsevents: bad handshake request", "remote", nc.RemoteAddr(), "err", err)
		return
	}
	r.RemoteAddr = nc.RemoteAddr().String()
	r.TLS = state
	c := s.upgrade(w, r)
	s.track(nc, false) // a connection now, or closed below
	if c == nil && !w.hijacked {
		w.finish() // the refusal
		nc.Close()
	}
	w.release()
	if c != nil {
		s.serveConn(c)
	}
}

// rawResponse is the http.ResponseWriter (and http.Hijacker) ServeHTTP
// answers a raw handshake through.
type rawResponse struct {
	conn     net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	header   http.Header
	status   int
	body     []byte
	hijacked bool
}

func (w *rawResponse) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

func (w *rawResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

// Write keeps the body of a refusal (a few lines at most) for finish.
func (w *rawResponse) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	w.WriteHeader(http.StatusOK)
	if len(w.body)+len(p) > 16<<10 {
		return 0, errors.New("wsevents: handshake refusal body too long")
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// finish writes the answer of a request that was not upgraded.
func (w *rawResponse) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	bw := bufio.NewWriterSize(w.conn, 1024)
	fmt.Fprintf(bw, "HTTP/1.1 %03d %s\r\n", w.status, http.StatusText(w.status))
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	h.Set("Connection", "close")
	if h.Get("Content-Type") == "" && len(w.body) > 0 {
		h.Set("Content-Type", http.DetectContentType(w.body))
	}
	h.Set("Content-Length", strconv.Itoa(len(w.body)))
	h.Write(bw)
	bw.WriteString("\r\n")
	bw.Write(w.body)
	bw.Flush()
}

// Hijack hands the connection to the upgrader, with the handshake's
// deadline lifted (the connection sets its own from here on).
func (w *rawResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	w.hijacked = true
	w.conn.SetDeadline(time.Time{})
	w.bw = handshakeWriters.Get().(*bufio.Writer)
	w.bw.Reset(w.conn)
	return w.conn, bufio.NewReadWriter(w.br, w.bw), nil
}

func (w *rawResponse) release() {
	if w.br != nil {
		w.br.Reset(nil)
		handshakeReaders.Put(w.br)
		w.br = nil
	}
	if w.bw != nil {
		w.bw.Reset(nil)
		handshakeWriters.Put(w.bw)
		w.bw = nil
	}
}
