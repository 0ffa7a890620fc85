package wsevents

import (
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// keepaliveRunning reports whether s's keepalive goroutine runs.
func keepaliveRunning(s *Server) bool {
	s.ka.mu.Lock()
	defer s.ka.mu.Unlock()
	return s.ka.running
}

// Many connections share one keepalive goroutine: each gets its first ping
// no earlier than PingPeriod after its handshake and, when it never
// answers, its 1001 no earlier than PingPeriod+PongTimeout. The goroutine
// starts with the first connection and ends with the last.
func TestKeepaliveWheelNeverEarly(t *testing.T) {
	const (
		n           = 20
		pingPeriod  = 80 * time.Millisecond
		pongTimeout = 60 * time.Millisecond
	)
	s := New(Config{PingPeriod: pingPeriod, PongTimeout: pongTimeout})
	if keepaliveRunning(s) {
		t.Fatal("keepalive goroutine running before any connection")
	}
	url := testServer(t, s)
	type result struct {
		ping, closed time.Duration
		code         StatusCode
		err          error
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		t0 := time.Now() // before the handshake: keepalive starts after it
		conn, _, _, err := ws.Dialer{Protocols: []string{Subprotocol}}.Dial(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		go func() {
			// Read frames without answering anything.
			var r result
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				h, err := ws.ReadHeader(conn)
				if err != nil {
					r.err = err
					break
				}
				p := make([]byte, h.Length)
				if _, err := ioReadFull(conn, p); err != nil {
					r.err = err
					break
				}
				if h.OpCode == ws.OpPing && r.ping == 0 {
					r.ping = time.Since(t0)
				}
				if h.OpCode == ws.OpClose {
					code, _ := ws.ParseCloseFrameData(p)
					r.closed, r.code = time.Since(t0), StatusCode(code)
					conn.Close() // no answer: the server's read ends at once
					break
				}
			}
			results <- r
		}()
	}
	if !keepaliveRunning(s) {
		t.Fatal("no keepalive goroutine with connections open")
	}
	for i := 0; i < n; i++ {
		r := <-results
		switch {
		case r.err != nil:
			t.Fatalf("connection ended without a close frame: %v", r.err)
		case r.ping == 0:
			t.Fatal("closed without a ping")
		case r.ping < pingPeriod:
			t.Fatalf("first ping %v after the handshake began, before PingPeriod %v", r.ping, pingPeriod)
		case r.code != StatusGoingAway:
			t.Fatalf("close %d, want 1001", r.code)
		case r.closed < pingPeriod+pongTimeout:
			t.Fatalf("closed after %v, before PingPeriod+PongTimeout %v", r.closed, pingPeriod+pongTimeout)
		}
	}
	waitFor(t, "every connection gone", func() bool { return s.Len() == 0 })
	waitFor(t, "the keepalive goroutine gone", func() bool { return !keepaliveRunning(s) })
}

// A connection that answers keeps being pinged; one that leaves is taken
// out of the wheel while others stay in it.
func TestKeepaliveWheelAnswering(t *testing.T) {
	s := New(Config{PingPeriod: 30 * time.Millisecond, PongTimeout: 20 * time.Millisecond})
	pongs := make(chan string, 64)
	s.OnConnection(func(c Connection) {
		c.OnPong(func() {
			select {
			case pongs <- c.ID():
			default:
			}
		})
	})
	url := testServer(t, s)
	stay, leave := dialEvents(t, url), dialEvents(t, url)
	// Reading answers pings (wsutil's control handler).
	stop := make(chan struct{})
	read := func(c *client) {
		for {
			select {
			case <-stop:
				return
			default:
			}
			c.conn.SetReadDeadline(time.Now().Add(time.Second))
			if _, _, err := wsutil.ReadServerData(c.conn); err != nil {
				return
			}
		}
	}
	go read(stay)
	leave.conn.Close()
	waitFor(t, "the leaving connection gone", func() bool { return s.Len() == 1 })
	seen := 0
	deadline := time.After(5 * time.Second)
	for seen < 5 {
		select {
		case <-pongs:
			seen++
		case <-deadline:
			t.Fatalf("%d pongs in 5s from the connection that answers", seen)
		}
	}
	if s.Len() != 1 {
		t.Fatalf("%d connections, want the answering one", s.Len())
	}
	close(stop)
}
