package wsevents

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Every core test runs with parking after 20 ms idle, so that the parked
// path is the common one here; `WSEVENTS_EPOLL=0 go test` runs them all
// again on the goroutine-per-connection path.
func init() { idleParkAfter = 20 * time.Millisecond }

func needParking(t *testing.T) {
	if !parkingEnabled {
		t.Skip("WSEVENTS_EPOLL=0: parking is off")
	}
}

// parkedNow counts s's connections parked at this moment.
func parkedNow(s *Server) int {
	n := 0
	s.mu.RLock()
	for _, c := range s.conns {
		if c.parked.Load() {
			n++
		}
	}
	s.mu.RUnlock()
	return n
}

func TestIdleConnectionsParkAndWake(t *testing.T) {
	needParking(t)
	const n = 50
	s := New(Config{PingPeriod: -1})
	var left atomic.Int32
	s.OnConnection(func(c Connection) {
		c.On("echo", func(m string) { c.Emit("echo", m) })
		c.OnDisconnect(func() { left.Add(1) })
	})
	url := testServer(t, s)
	before := runtime.NumGoroutine()
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dialEvents(t, url)
		clients[i].send("et:echo\nhello")
		clients[i].expect("et:echo\nhello")
	}
	waitFor(t, "every connection parked", func() bool { return parkedNow(s) == n })
	// No goroutine per parked connection (allow a few for the poller and
	// the runtime's own).
	if g := runtime.NumGoroutine(); g > before+5 {
		t.Fatalf("%d goroutines with %d parked connections (%d before them)", g, n, before)
	}

	// Parked connections wake for input, and take emits while parked.
	for _, c := range clients {
		c.send("et:echo\nagain")
		c.expect("et:echo\nagain")
	}
	waitFor(t, "parked again", func() bool { return parkedNow(s) == n })
	if err := s.To(All).Emit("news", "to the parked"); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.expect("et:news\nto the parked")
	}

	// A peer that goes away while parked: the connection finishes.
	waitFor(t, "parked again", func() bool { return parkedNow(s) == n })
	clients[0].conn.Close()
	waitFor(t, "OnDisconnect of the vanished peer", func() bool { return left.Load() == 1 })

	// Shutdown reaches parked connections: 1001 to each, then done.
	waitFor(t, "parked again", func() bool { return parkedNow(s) == n-1 })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	for _, c := range clients[1:] {
		if code := c.closeCode(); code != StatusGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
		ws.WriteFrame(c.conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, ""))))
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if left.Load() != n {
		t.Fatalf("OnDisconnect ran %d times, want %d", left.Load(), n)
	}
	waitFor(t, "park slots released", func() bool { return parkedConns() == 0 })
}

func TestParkedConnectionKeepalive(t *testing.T) {
	needParking(t)
	s := New(Config{PingPeriod: 100 * time.Millisecond, PongTimeout: 50 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	gone := make(chan struct{})
	s.OnConnection(func(c Connection) { c.OnDisconnect(func() { close(gone) }) })
	url := testServer(t, s)

	// A client that answers pings stays, parked between them.
	alive := dialEvents(t, url)
	stop := make(chan struct{})
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		for {
			select {
			case <-stop:
				return
			default:
			}
			alive.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			h, err := ws.ReadHeader(alive.conn)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue
				}
				return
			}
			p := make([]byte, h.Length)
			ioReadFull(alive.conn, p)
			if h.OpCode == ws.OpPing {
				ws.WriteFrame(alive.conn, ws.MaskFrame(ws.NewPongFrame(p)))
			}
		}
	}()
	waitFor(t, "the answering client parked", func() bool { return parkedNow(s) == 1 })
	time.Sleep(400 * time.Millisecond) // several ping periods; not a timing assertion
	if s.Len() != 1 {
		t.Fatal("a client that answers pings was closed")
	}
	close(stop)
	<-answered

	// It stops answering: closed after the pong timeout although parked.
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("a parked client that stopped answering pings was not closed")
	}
}

// A new connection whose client has sent nothing parks as soon as
// OnConnection returns, not after its idle delay (an hour here), and
// serves as before once its client speaks. After that the idle delay
// applies again.
func TestNewConnectionParksAtOnce(t *testing.T) {
	needParking(t)
	s := New(Config{PingPeriod: -1})
	s.parkAfter = time.Hour
	s.OnConnection(func(c Connection) {
		c.On("echo", func(m string) { c.Emit("echo", m) })
	})
	url := testServer(t, s)
	c := dialEvents(t, url)
	waitFor(t, "the new, silent connection parked", func() bool { return parkedNow(s) == 1 })
	c.send("et:echo\nhello")
	c.expect("et:echo\nhello")
	// Woken, it keeps its goroutine for its idle delay.
	time.Sleep(50 * time.Millisecond)
	if n := parkedNow(s); n != 0 {
		t.Fatalf("%d connections parked again before their idle delay", n)
	}
	c.send("et:echo\nagain")
	c.expect("et:echo\nagain")
}

// A connection that keeps talking never parks, even though each wait
// between its messages is short; once it falls silent it parks within
// two idle delays.
func TestBusyConnectionDoesNotPark(t *testing.T) {
	needParking(t)
	s := New(Config{PingPeriod: -1})
	s.parkAfter = 40 * time.Millisecond
	s.OnConnection(func(c Connection) {
		c.On("echo", func(m string) { c.Emit("echo", m) })
	})
	url := testServer(t, s)
	c := dialEvents(t, url)
	c.send("et:echo\nfirst")
	c.expect("et:echo\nfirst")
	before := s.parks.Load() // the park at once of the new connection, if it came first
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		// Whole frames in one write, as browsers send them: no message
		// waits for its rest (which would set ReadTimeout's deadline).
		var frame bytes.Buffer
		ws.WriteFrame(&frame, ws.MaskFrame(ws.NewTextFrame([]byte("et:echo\nbusy"))))
		if _, err := c.conn.Write(frame.Bytes()); err != nil {
			t.Fatal(err)
		}
		c.expect("et:echo\nbusy")
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.parks.Load() - before; n != 0 {
		t.Fatalf("a busy connection parked %d times", n)
	}
	waitFor(t, "the silent connection parked", func() bool { return parkedNow(s) == 1 })
}

// A silent connection served by Serve parks like one behind net/http
// (Linux): the handshake's goroutine is given back.
func TestServeListenerParks(t *testing.T) {
	needParking(t)
	s := New(Config{PingPeriod: -1})
	s.OnConnection(func(c Connection) { c.On("echo", func(m string) { c.Emit("echo", m) }) })
	addr := serveListener(t, s)
	c := dialEvents(t, "ws://"+addr+"/")
	waitFor(t, "the silent connection parked", func() bool { return parkedNow(s) == 1 })
	c.send("et:echo\nawake")
	c.expect("et:echo\nawake")
}

// TestCloseSocketWaitsForDirectUsers: while a descriptor is held for a
// direct send (sockFD), closing the connection's socket waits; once it is
// let go the socket closes and no new holder gets it.
func TestCloseSocketWaitsForDirectUsers(t *testing.T) {
	held := make(chan *Conn, 1)
	s := New(Config{})
	s.OnConnection(func(c Connection) { held <- c })
	url := testServer(t, s)
	cl := dial(t, url)
	c := <-held
	fd, ok := c.sockFD()
	if !ok || fd < 0 {
		t.Fatalf("sockFD = %d, %v", fd, ok)
	}
	closed := closeInBackground(c)
	select {
	case <-closed:
		t.Fatal("the socket closed while its descriptor was held")
	case <-time.After(100 * time.Millisecond):
	}
	if _, ok := c.sockFD(); ok {
		t.Fatal("a closing socket's descriptor was handed out")
	}
	// Still open: the client can still write to it.
	ping, err := ws.CompileFrame(ws.MaskFrame(ws.NewPingFrame(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.conn.Write(ping); err != nil {
		t.Fatalf("socket closed early: %v", err)
	}
	c.releaseFD()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("closeSocket did not return once the descriptor was let go")
	}
	cl.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ws.ReadHeader(cl.conn); err == nil {
		// A pong may come first; then the end.
		for err == nil {
			_, err = ws.ReadHeader(cl.conn)
		}
	}
	waitFor(t, "the connection to end", func() bool { return s.Len() == 0 })
}

// A handler runs inside the read callback, which holds the socket's
// descriptor (reader.inline). Closing the socket from elsewhere meanwhile
// does not wait for the handler: the peer sees the end at once, and the
// read goroutine closes the descriptor when the handler returns.
func TestCloseWhileHandlerRunsInline(t *testing.T) {
	needParking(t)
	entered := make(chan *Conn, 1)
	release := make(chan struct{})
	s := New(Config{PingPeriod: -1})
	s.OnConnection(func(c Connection) {
		c.OnMessage(func(Message) {
			entered <- c
			<-release
		})
	})
	url := testServer(t, s)
	cl := dial(t, url)
	cl.send("block")
	c := <-entered
	if c.sockUse.Load()&sockInline == 0 {
		t.Fatal("the handler does not run inline")
	}
	closed := closeInBackground(c)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("closeSocket waited for the handler")
	}
	// The peer sees the end while the handler still runs.
	cl.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := cl.conn.Read(make([]byte, 64)); err == nil {
		t.Fatal("the socket still delivers data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the peer did not see the socket shut down")
	}
	if s.Len() != 1 {
		t.Fatalf("%d connections while the handler runs, want 1", s.Len())
	}
	close(release)
	waitFor(t, "the connection to end", func() bool { return s.Len() == 0 })
}

// A handler that closes its own socket (a failed write does) does not
// deadlock on the descriptor its own read callback holds.
func TestCloseFromInlineHandler(t *testing.T) {
	needParking(t)
	var after atomic.Value
	s := New(Config{PingPeriod: -1})
	s.OnConnection(func(c Connection) {
		c.OnMessage(func(Message) {
			c.closeSocket()
			after.Store(c.EmitMessage(Message{Kind: KindText, Data: []byte("late")}) != nil)
		})
	})
	url := testServer(t, s)
	cl := dial(t, url)
	cl.send("close yourself")
	waitFor(t, "the connection to end", func() bool { return s.Len() == 0 })
	if v := after.Load(); v == nil {
		t.Fatal("the handler did not return")
	}
	cl.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		h, err := ws.ReadHeader(cl.conn)
		if err != nil {
			break // the end, as wanted
		}
		if h.OpCode.IsData() {
			t.Fatal("a frame sent after the socket closed arrived")
		}
		if _, err := ioReadFull(cl.conn, make([]byte, h.Length)); err != nil {
			break
		}
	}
}

// A peer that sends and closes at once: the last frame and the FIN arrive
// together, one read takes both, and the poller has nothing more to report.
// The connection still ends at once (TCP_INQ counts the FIN), not at its
// idle deadline, here an hour away.
func TestFrameAndFINTogether(t *testing.T) {
	needParking(t)
	for i := range 20 {
		busy := make(chan struct{})
		var ended atomic.Bool
		s := New(Config{PingPeriod: -1})
		s.parkAfter = time.Hour
		s.OnConnection(func(c Connection) {
			c.OnMessage(func(m Message) {
				if string(m.Data) == "first" {
					<-busy // the second frame and the FIN arrive meanwhile
				}
			})
			c.OnDisconnect(func() { ended.Store(true) })
		})
		cl := dial(t, testServer(t, s))
		cl.send("first")
		second, err := ws.CompileFrame(ws.MaskFrame(ws.NewTextFrame([]byte("second"))))
		if err != nil {
			t.Fatal(err)
		}
		cl.conn.Write(second)
		cl.conn.Close()
		time.Sleep(time.Millisecond)
		close(busy)
		waitFor(t, "the connection to end", ended.Load)
		if i == 0 && s.Len() != 0 {
			t.Fatalf("%d connections left", s.Len())
		}
	}
}

// A parked connection that a pong wakes (keepalive) parks again at once,
// not after parkAfter: keepalive costs an idle connection no goroutine.
func TestPongAloneParksAtOnce(t *testing.T) {
	needParking(t)
	s := New(Config{PingPeriod: -1})
	s.parkAfter = time.Hour
	s.OnConnection(func(c Connection) { c.OnMessage(func(m Message) { c.EmitMessage(m) }) })
	cl := dial(t, testServer(t, s))
	waitFor(t, "the silent connection parked", func() bool { return parkedNow(s) == 1 })
	before := s.parks.Load()
	pong, err := ws.CompileFrame(ws.MaskFrame(ws.NewPongFrame([]byte("ka"))))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.conn.Write(pong); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connection to park again after the pong", func() bool { return s.parks.Load() > before && parkedNow(s) == 1 })
	// A data message makes it busy: it stays (parkAfter is an hour).
	before = s.parks.Load()
	cl.send("data")
	cl.expect("data")
	time.Sleep(50 * time.Millisecond)
	if s.parks.Load() != before || parkedNow(s) != 0 {
		t.Fatal("a connection parked at once after a data message")
	}
}

// closeInBackground runs c.closeSocket on a goroutine of its own; the
// channel is closed once it returns.
func closeInBackground(c *Conn) <-chan struct{} {
	closed := make(chan struct{})
	go func() {
		c.closeSocket()
		close(closed)
	}()
	return closed
}
