package thirdparty

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
)

// Faults: peers that vanish, go silent, or never finish the closing
// handshake, and handlers that panic or block. Each test keeps a
// well-behaved bystander connected through the fault and checks that it
// still works afterwards: one bad connection must cost only itself.

// faultServer counts what the fault tests watch: events handled, and
// connections that ended, by ID.
type faultServer struct {
	*harness
	mu      sync.Mutex
	gone    map[string]chan struct{} // closed by OnDisconnect
	handled chan string              // "chat" payloads
}

func startFaults(t *testing.T, cfg wsevents.Config, setup func(c wsevents.Connection)) *faultServer {
	t.Helper()
	fs := &faultServer{gone: make(map[string]chan struct{}), handled: make(chan string, 64)}
	fs.harness = start(t, cfg, func(c wsevents.Connection) {
		ch := fs.goneCh(c.ID())
		c.OnDisconnect(func() { close(ch) })
		c.On("chat", func(s string) { fs.handled <- s })
		c.On("echo", func(s string) { c.Emit("echo", s) })
		if setup != nil {
			setup(c)
		}
	})
	return fs
}

func (fs *faultServer) goneCh(id string) chan struct{} {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	ch, ok := fs.gone[id]
	if !ok {
		ch = make(chan struct{})
		fs.gone[id] = ch
	}
	return ch
}

// waitDisconnect waits, at most bound, for OnDisconnect of the connection
// and returns how long that took.
func (fs *faultServer) waitDisconnect(t *testing.T, id string, bound time.Duration) {
	t.Helper()
	select {
	case <-fs.goneCh(id):
	case <-time.After(bound):
		t.Fatalf("connection %s: no OnDisconnect within %v", id, bound)
	}
	fs.waitGone(t, id)
}

// echoes checks that a gorilla bystander still gets its events answered.
func echoes(t *testing.T, g *websocket.Conn, text string) {
	t.Helper()
	gorillaSend(t, g, websocket.TextMessage, event("echo", text))
	for {
		m := gorillaReadMsg(t, g)
		if m.name == "echo" {
			if m.payload != text {
				t.Fatalf("bystander: echo %q, want %q", m.payload, text)
			}
			return
		}
	}
}

// A client that disappears in the middle of a message: with a FIN, with a
// reset, between fragments, or after a frame header alone. The server
// ends that connection, runs no handler for the partial message, and
// keeps serving the others.
func TestFaultVanishMidMessage(t *testing.T) {
	fs := startFaults(t, wsevents.Config{}, nil)
	bystander := gorillaEvents(t, fs.harness)
	fs.next(t)

	whole := clientFrame(fin, opText, event("chat", "this message never completes"))
	first := clientFrame(0, opText, event("chat", "first fragment"))
	cases := []struct {
		name  string
		sent  []byte
		reset bool
	}{
		{"FIN inside the payload", whole[:len(whole)/2], false},
		{"reset inside the payload", whole[:len(whole)/2], true},
		{"FIN inside the header", whole[:3], false},
		{"FIN between fragments", first, false},
		{"reset between fragments", first, true},
		{"FIN after a 64 KiB frame header", clientFrame(fin, opBinary, make([]byte, 64<<10))[:14], false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, fs.harness, "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
			sc := fs.next(t)
			rc.write(tc.sent)
			if tc.reset {
				// Linger 0: close sends RST instead of FIN.
				rc.conn.(*net.TCPConn).SetLinger(0)
			}
			rc.conn.Close()
			fs.waitDisconnect(t, sc.ID(), wait)
			select {
			case s := <-fs.handled:
				t.Fatalf("a handler ran for the partial message: %q", s)
			default:
			}
			echoes(t, bystander, fmt.Sprint("still here ", i))
		})
	}
}

// A client that stops sending in the middle of a message without closing
// (its host vanished, or it stalls on purpose) is closed by ReadTimeout
// with 1008, sees why, and is released even though it never answers.
func TestFaultStallMidMessage(t *testing.T) {
	const (
		readTimeout  = 200 * time.Millisecond
		writeTimeout = 300 * time.Millisecond
		// The close frame's write, the core's 2 s wait for an answer, and
		// slack for a loaded machine.
		release = writeTimeout + 2*time.Second + 3*time.Second
	)
	fs := startFaults(t, wsevents.Config{ReadTimeout: readTimeout, WriteTimeout: writeTimeout, PingPeriod: -1}, nil)
	bystander := gorillaEvents(t, fs.harness)
	fs.next(t)

	whole := clientFrame(fin, opText, event("chat", "stalled"))
	for _, tc := range []struct {
		name string
		sent []byte
	}{
		{"inside a frame", whole[:len(whole)-3]},
		{"between fragments", clientFrame(0, opText, event("chat", "part one"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, fs.harness, "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
			sc := fs.next(t)
			rc.write(tc.sent)
			// Read the close without answering it: a peer that stalled
			// mid-frame could not frame an answer anyway.
			for {
				f, err := rc.readFrame()
				if err != nil {
					t.Fatalf("connection ended without a close frame: %v", err)
				}
				if f.op != opClose {
					continue
				}
				if code := closeCode(f.payload); code != 1008 {
					t.Fatalf("close %d %q, want 1008 (read timeout)", code, f.payload[2:])
				}
				break
			}
			fs.waitDisconnect(t, sc.ID(), release)
			select {
			case s := <-fs.handled:
				t.Fatalf("a handler ran for the partial message: %q", s)
			default:
			}
			echoes(t, bystander, "after "+tc.name)
		})
	}
}

// Half-open TCP: the peer is gone without a FIN (its host lost power, a
// NAT forgot the flow). Simulated by a client whose socket stays open but
// that never reads or writes another byte. Keepalive decides it is dead
// once PingPeriod+PongTimeout have passed with no answer, and the server
// releases it within its close bounds; a bystander that answers pings
// stays.
func TestFaultHalfOpen(t *testing.T) {
	const (
		pingPeriod   = 150 * time.Millisecond
		pongTimeout  = 150 * time.Millisecond
		writeTimeout = 300 * time.Millisecond
		// After the decision: the close frame's write (WriteTimeout), the
		// wait for an answer that never comes (2 s in the core), and slack
		// for a loaded machine.
		release = writeTimeout + 2*time.Second + 3*time.Second
	)
	cfg := wsevents.Config{PingPeriod: pingPeriod, PongTimeout: pongTimeout, WriteTimeout: writeTimeout}

	t.Run("idle", func(t *testing.T) {
		fs := startFaults(t, cfg, nil)
		bystander := gorillaEvents(t, fs.harness)
		bid := fs.next(t).ID()
		bystanderReads := make(chan error, 1)
		go func() {
			// Reading makes gorilla answer pings.
			bystander.SetReadDeadline(time.Now().Add(4 * wait))
			_, _, err := bystander.ReadMessage()
			bystanderReads <- err
		}()

		t0 := time.Now() // before the handshake, so before keepalive starts
		rc := dialRaw(t, fs.harness, "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
		sc := fs.next(t)
		// From here on the raw client neither reads nor writes.
		select {
		case <-sc.Context().Done():
		case <-time.After(pingPeriod + pongTimeout + wait):
			t.Fatal("keepalive did not give up on the silent peer")
		}
		if d := time.Since(t0); d < pingPeriod+pongTimeout {
			t.Fatalf("gave up after %v, before PingPeriod+PongTimeout (%v)", d, pingPeriod+pongTimeout)
		}
		fs.waitDisconnect(t, sc.ID(), release)
		if _, ok := fs.srv.Get(bid); !ok {
			t.Fatal("the bystander that answers pings was closed too")
		}
		select {
		case err := <-bystanderReads:
			t.Fatalf("bystander's read ended: %v", err)
		default:
		}
		fs.srv.To(bid).Emit("alive", "yes")
		if err := recv(t, bystanderReads); err != nil {
			t.Fatalf("bystander: %v", err)
		}
		// What the silent peer has in its receive buffer: pings, then the
		// 1001 close frame, then the end of the stream.
		pings := 0
		for {
			f, err := rc.readFrame()
			if err != nil {
				t.Fatalf("after %d pings: no close frame: %v", pings, err)
			}
			if f.op == opPing {
				pings++
				continue
			}
			if f.op != opClose || closeCode(f.payload) != 1001 {
				t.Fatalf("frame op %d %q, want the 1001 close", f.op, f.payload)
			}
			break
		}
		if pings == 0 {
			t.Fatal("closed for a missing pong without sending a ping")
		}
	})

	// The same while the server has much to send: the socket backs up,
	// the ping cannot even leave the queue, and the write timeout ends it.
	t.Run("backed up", func(t *testing.T) {
		fs := startFaults(t, cfg, nil)
		// Connected, then silent: its socket stays open, unread.
		dialRawWith(t, fs.harness, smallRecvBuffer(4<<10), "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
		sc := fs.next(t)
		big := make([]byte, 32<<10)
		for i := 0; i < 64; i++ {
			if err := sc.Emit("data", big); err != nil {
				break // the queue limit or the close: either way it is backed up
			}
		}
		select {
		case <-sc.Context().Done():
		case <-time.After(pingPeriod + pongTimeout + writeTimeout + wait):
			t.Fatal("the silent, backed-up peer was not given up")
		}
		fs.waitDisconnect(t, sc.ID(), release)
	})
}

// Shutdown while one client never answers the close: the clients that do
// answer see 1001 and are gone; Shutdown gives up on the silent one when
// its context ends, drops it, and returns the context's error.
func TestFaultShutdownUnansweredClose(t *testing.T) {
	fs := startFaults(t, wsevents.Config{}, nil)
	g := gorillaEvents(t, fs.harness)
	gid := fs.next(t).ID()
	cc := coderEvents(t, fs.harness)
	cid := fs.next(t).ID()
	silent := dialRaw(t, fs.harness, "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
	sid := fs.next(t).ID()

	gcode, ccode := make(chan int, 1), make(chan int, 1)
	go func() {
		g.SetReadDeadline(deadline())
		for {
			if _, _, err := g.ReadMessage(); err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					gcode <- ce.Code
				} else {
					gcode <- -1
				}
				return
			}
		}
	}()
	go func() {
		ctx, cancel := ctxWait()
		defer cancel()
		for {
			if _, _, err := cc.Read(ctx); err != nil {
				ccode <- int(coder.CloseStatus(err))
				return
			}
		}
	}()

	const grace = 500 * time.Millisecond
	t0 := time.Now() // before the context, whose deadline is then at least t0+grace
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := fs.srv.Shutdown(ctx)
	took := time.Since(t0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want context.DeadlineExceeded: one client never answered", err)
	}
	if took < grace {
		t.Fatalf("Shutdown returned after %v, before its deadline (%v), with a connection open", took, grace)
	}
	if took > grace+2*time.Second {
		t.Fatalf("Shutdown returned %v after its deadline", took-grace)
	}
	if code := recv(t, gcode); code != 1001 {
		t.Errorf("gorilla saw close %d, want 1001", code)
	}
	if code := recv(t, ccode); code != 1001 {
		t.Errorf("coder saw close %d, want 1001", code)
	}
	if n := fs.srv.Len(); n != 0 {
		t.Fatalf("after Shutdown, Len = %d", n)
	}
	for _, id := range []string{gid, cid, sid} {
		fs.waitDisconnect(t, id, wait)
	}
	// The silent client got the 1001 too; then the server closed TCP.
	for {
		f, err := silent.readFrame()
		if err != nil {
			t.Fatalf("silent client: no close frame: %v", err)
		}
		if f.op == opClose {
			if code := closeCode(f.payload); code != 1001 {
				t.Fatalf("silent client: close %d, want 1001", code)
			}
			break
		}
	}
	if _, err := silent.readFrame(); err == nil || isTimeout(err) {
		t.Fatalf("silent client: after the close frame, read = %v; want the end of the stream", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Panics in every kind of user code close only the connection they ran
// for, with 1011, are reported and counted, and leave the other
// connections (and their rooms) working.
func TestFaultHandlerPanics(t *testing.T) {
	var reported atomic.Int64
	fs := startFaults(t, wsevents.Config{}, func(c wsevents.Connection) {
		c.OnError(func(err error) {
			var pe *wsevents.PanicError
			if errors.As(err, &pe) {
				reported.Add(1)
			}
		})
		c.Join("lobby")
		c.On("boom", func() { panic("event handler") })
		c.On("ask-boom", func(wsevents.Message) (any, error) { panic("ask handler") })
		c.OnMessage(func(s string) {
			if s == "boom" {
				panic("native handler")
			}
		})
		switch c.Request().URL.Query().Get("panic") {
		case "connect":
			panic("OnConnection")
		case "disconnect":
			c.OnDisconnect(func() { panic("OnDisconnect") })
		}
	})
	base := fs.url
	bystander := gorillaEvents(t, fs.harness)
	bid := fs.next(t).ID()

	dial := func(t *testing.T, query string, native bool) (*websocket.Conn, string) {
		fs.url = base + query
		defer func() { fs.url = base }()
		d := websocket.Dialer{Subprotocols: []string{proto}}
		if native {
			d.Subprotocols = nil
		}
		c := dialGorilla(t, fs.harness, d, nil)
		if query == "?panic=connect" {
			return c, ""
		}
		return c, fs.next(t).ID()
	}
	cases := []struct {
		name   string
		query  string
		native bool
		send   []byte
		code   int
	}{
		{"event handler", "", false, event("boom", ""), 1011},
		{"ask handler", "", false, enc('a', 't', 1, "ask-boom", ""), 1011},
		{"native message handler", "", true, []byte("boom"), 1011},
		{"OnConnection", "?panic=connect", false, nil, 1011},
		// A panic in OnDisconnect runs after the close: the client's own
		// close completes normally and the server lives.
		{"OnDisconnect hook", "?panic=disconnect", false, nil, 1000},
	}
	panics := uint64(0)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, id := dial(t, tc.query, tc.native)
			if tc.send != nil {
				gorillaSend(t, c, websocket.TextMessage, tc.send)
			}
			if tc.code == 1000 {
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), deadline())
			} else {
				panics++
			}
			if code := gorillaCloseCode(t, c); code != tc.code {
				t.Fatalf("close %d, want %d", code, tc.code)
			}
			if id != "" {
				fs.waitDisconnect(t, id, wait)
			}
			if _, ok := fs.srv.Get(bid); !ok {
				t.Fatal("the bystander was closed")
			}
			echoes(t, bystander, fmt.Sprint("after panic ", i))
			// The panicking connection leaves its rooms as it ends (for
			// OnConnection, with no ID handed out, only this shows it).
			eventually(t, "only the bystander left in the lobby", func() bool {
				got := fs.srv.RoomMembers("lobby")
				return len(got) == 1 && got[0] == bid
			})
		})
	}
	if got := fs.srv.Stats().Panics; got < panics {
		t.Fatalf("Stats().Panics = %d, want at least %d", got, panics)
	}
	if reported.Load() == 0 {
		t.Fatal("no panic reached OnError")
	}
}

// Handlers that block hold up only their own connection: while many
// connections sit in a blocked handler (more than any worker pool of a
// reasonable size), the others exchange events, a server-side broadcast
// returns at once and reaches everyone (the blocked ones too: writing does
// not wait for their handlers), and new connections are accepted. Once
// released, each blocked connection handles what it sent meanwhile, in
// order.
func TestFaultBlockingHandler(t *testing.T) {
	const blockers = 64
	release := make(chan struct{})
	var blocked atomic.Int64
	fs := startFaults(t, wsevents.Config{PingPeriod: -1}, func(c wsevents.Connection) {
		c.On("block", func() {
			blocked.Add(1)
			<-release
		})
		c.On("after", func(s string) { c.Emit("after", s) })
		c.Join("room")
	})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the harness's Shutdown: cleanups run last-in first-out

	var stuck []*websocket.Conn
	for range blockers {
		c := gorillaEvents(t, fs.harness)
		fs.next(t)
		gorillaSend(t, c, websocket.TextMessage, event("block", ""))
		gorillaSend(t, c, websocket.TextMessage, event("after", "1"))
		gorillaSend(t, c, websocket.TextMessage, event("after", "2"))
		stuck = append(stuck, c)
	}
	eventually(t, "every blocking handler entered", func() bool { return blocked.Load() == blockers })

	// Others are served: a new gorilla and a new coder connection talk
	// through the room and get echoes.
	g := gorillaEvents(t, fs.harness)
	fs.next(t)
	cc := coderEvents(t, fs.harness)
	fs.next(t)
	echoes(t, g, "while others block")
	coderSend(t, cc, coder.MessageText, event("echo", "coder too"))
	if m := coderReadMsg(t, cc); m.name != "echo" || m.payload != "coder too" {
		t.Fatalf("coder got %v", m)
	}

	// A server-side broadcast returns without waiting and reaches all,
	// blocked connections included.
	done := make(chan error, 1)
	go func() { done <- fs.srv.To(wsevents.All).Emit("news", "for everyone") }()
	if err := recv(t, done); err != nil {
		t.Fatalf("broadcast: %v", err)
	}
	for _, c := range append([]*websocket.Conn{g}, stuck...) {
		if m := gorillaReadMsg(t, c); m.name != "news" {
			t.Fatalf("got %v, want the broadcast", m)
		}
	}
	if m := coderReadMsg(t, cc); m.name != "news" {
		t.Fatalf("coder got %v, want the broadcast", m)
	}

	// Released, each blocked connection handles its queued events in order.
	unblock()
	for i, c := range stuck {
		for _, want := range []string{"1", "2"} {
			if m := gorillaReadMsg(t, c); m.name != "after" || m.payload != want {
				t.Fatalf("connection %d: got %v, want after %q", i, m, want)
			}
		}
	}
}
