package wseventstest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
)

// Shorthands for the messages the cases expect.
func text(name, payload string) Message { return Event(name, wsevents.KindText, payload) }
func jsonEvent(name, payload string) Message {
	return Event(name, wsevents.KindJSON, payload)
}
func ask(id uint64, kind wsevents.Kind, name, payload string) Message {
	return Message{Type: 'a', Kind: kind, ID: id, Name: name, Payload: []byte(payload)}
}
func reply(id uint64, kind wsevents.Kind, payload string) Message {
	return Message{Type: 'r', Kind: kind, ID: id, Payload: []byte(payload)}
}
func errorReply(id uint64, payload string) Message {
	return Message{Type: 'x', Kind: wsevents.KindText, ID: id, Payload: []byte(payload)}
}

// welcome makes every connection announce its ID first, so that the
// cases address connections without depending on the request.
func welcome(c wsevents.Connection) { c.Emit("welcome", c.ID()) }

// dialWelcomed dials and returns the client with the ID the server gave it.
func dialWelcomed(t testing.TB, url string) (*Client, string) {
	t.Helper()
	cl := Dial(t, url, nil)
	m := cl.Read()
	if m.Type != 'e' || m.Name != "welcome" || len(m.Payload) == 0 {
		t.Fatalf("first message %v, want the welcome event with the connection ID", m)
	}
	return cl, string(m.Payload)
}

// testConnect: the handshake negotiates event mode, OnConnection runs with
// a usable Connection, and the server counts it.
func testConnect(t *testing.T, mount Mount) {
	conns := make(chan wsevents.Connection, 1)
	srv, url := serve(t, mount, wsevents.Config{}, func(c wsevents.Connection) {
		conns <- c
		welcome(c)
	})
	cl := Dial(t, url, nil)
	if got := cl.Response.StatusCode; got != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d, want 101", got)
	}
	if got := cl.Conn.Subprotocol(); got != wsevents.Subprotocol {
		t.Fatalf("negotiated subprotocol %q, want %q", got, wsevents.Subprotocol)
	}
	c := recv(t, conns, "OnConnection")
	if c.ID() == "" {
		t.Error("connection ID is empty")
	}
	if c.Server() != srv {
		t.Error("Connection.Server is not the mounted server")
	}
	if got := c.Subprotocol(); got != wsevents.Subprotocol {
		t.Errorf("Connection.Subprotocol = %q, want %q", got, wsevents.Subprotocol)
	}
	if c.Request() == nil {
		t.Error("Connection.Request is nil")
	}
	if n := srv.Len(); n != 1 {
		t.Errorf("srv.Len() = %d, want 1", n)
	}
	if got, ok := srv.Get(c.ID()); !ok || got != c {
		t.Errorf("srv.Get(%q) = %v, %v; want the connection", c.ID(), got, ok)
	}
	if err := c.Context().Err(); err != nil {
		t.Errorf("context of a live connection: %v", err)
	}
	cl.Expect(text("welcome", c.ID()))
}

// testEvents: events of every kind, from the server and to it, in the
// frame types PROTOCOL.md says.
func testEvents(t *testing.T, mount Mount) {
	type point struct{ X, Y int }
	got := make(chan any, 8)
	_, url := serve(t, mount, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("chat", func(s string) {
			got <- s
			c.Emit("chat", "echo: "+s)
		})
		c.On("move", wsevents.JSON(func(p point) { got <- p }))
		c.On("blob", func(b []byte) {
			got <- b
			c.Emit("blob", b)
		})
		c.Emit("hello", "world")
		c.Emit("num", 42)
		c.Emit("obj", map[string]int{"x": 1})
		c.Emit("bytes", []byte{0, 1, 0xfe, 0xff})
	})
	cl := Dial(t, url, nil)

	for _, want := range []struct {
		msg    Message
		binary bool
	}{
		{text("hello", "world"), false},
		{jsonEvent("num", "42"), false},
		{jsonEvent("obj", `{"x":1}`), false},
		{Event("bytes", wsevents.KindBinary, "\x00\x01\xfe\xff"), true},
	} {
		m, binary := cl.readFrame()
		if !m.Equal(want.msg) || binary != want.binary {
			t.Fatalf("got %v (binary frame: %v), want %v (binary frame: %v)", m, binary, want.msg, want.binary)
		}
	}

	cl.Emit("chat", "hi")
	if s := recv(t, got, `"chat" handler`); s != "hi" {
		t.Errorf(`"chat" handler got %#v, want "hi"`, s)
	}
	cl.Expect(text("chat", "echo: hi"))

	cl.Send(jsonEvent("move", `{"X":3,"Y":4}`))
	if p := recv(t, got, `"move" handler`); p != (point{3, 4}) {
		t.Errorf(`"move" handler got %#v, want {3 4}`, p)
	}

	blob := []byte{0xff, 0x00, '\n', 0x80}
	cl.Send(Message{Type: 'e', Kind: wsevents.KindBinary, Name: "blob", Payload: blob})
	if b, ok := recv(t, got, `"blob" handler`).([]byte); !ok || !bytes.Equal(b, blob) {
		t.Errorf(`"blob" handler got %#v, want %v`, b, blob)
	}
	cl.Expect(Event("blob", wsevents.KindBinary, string(blob)))

	// A receiver accepts every kind in either frame type.
	data, _ := text("chat", "in a binary frame").Encode()
	cl.write(data, true)
	if s := recv(t, got, `"chat" handler`); s != "in a binary frame" {
		t.Errorf(`"chat" handler got %#v for a text event in a binary frame`, s)
	}
	cl.Expect(text("chat", "echo: in a binary frame"))
}

// testNative: a client that does not offer wsevents.v1 is in native mode
// and its messages reach OnMessage unchanged, frame type included.
func testNative(t *testing.T, mount Mount) {
	protos := make(chan string, 1)
	_, url := serve(t, mount, wsevents.Config{}, func(c wsevents.Connection) {
		protos <- c.Subprotocol()
		c.OnMessage(func(m wsevents.Message) { c.EmitMessage(m) })
	})
	cl := DialNative(t, url, nil)
	if p := recv(t, protos, "OnConnection"); p != "" {
		t.Fatalf("native connection has subprotocol %q", p)
	}
	if got := cl.Conn.Subprotocol(); got != "" {
		t.Fatalf("server answered subprotocol %q to a client that offered none", got)
	}
	for _, m := range []struct {
		op   int
		data string
	}{
		{websocket.TextMessage, "plain text"},
		{websocket.BinaryMessage, "\x00\xff binary"},
		{websocket.TextMessage, "et:looks-like-an-event\nx"},
		{websocket.TextMessage, ""},
	} {
		cl.write([]byte(m.data), m.op == websocket.BinaryMessage)
		op, data := cl.readRaw()
		if op != m.op || string(data) != m.data {
			t.Fatalf("echo of %q (opcode %d) came back as %q (opcode %d)", m.data, m.op, data, op)
		}
	}
}

// testAskServerToClient: Connection.Ask gets the client's reply and its
// error reply, and stray replies are ignored.
func testAskServerToClient(t *testing.T, mount Mount) {
	type result struct {
		msg wsevents.Message
		err error
	}
	results := make(chan result, 2)
	_, url := serve(t, mount, wsevents.Config{}, func(c wsevents.Connection) {
		// Not from the handler itself: its goroutine reads the answer.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			m, err := c.Ask(ctx, "sum", []int{1, 2})
			results <- result{m, err}
			m, err = c.Ask(ctx, "fail", "x")
			results <- result{m, err}
		}()
	})
	cl := Dial(t, url, nil)

	cl.Expect(ask(1, wsevents.KindJSON, "sum", "[1,2]"))
	cl.Send(reply(99, wsevents.KindJSON, "0")) // matches no ask: ignored
	cl.Send(reply(1, wsevents.KindJSON, "3"))
	r := recv(t, results, "the answer to Ask")
	if r.err != nil {
		t.Fatalf("Ask: %v", r.err)
	}
	if r.msg.Kind != wsevents.KindJSON || r.msg.String() != "3" || r.msg.Event != "sum" {
		t.Errorf("Ask answer %+v, want JSON 3 for \"sum\"", r.msg)
	}

	cl.Expect(ask(2, wsevents.KindText, "fail", "x"))
	cl.Send(errorReply(2, "nope"))
	r = recv(t, results, "the error answer to Ask")
	var re *wsevents.RemoteError
	if !errors.As(r.err, &re) {
		t.Fatalf("Ask answered with x: err = %v, want a *wsevents.RemoteError", r.err)
	}
	if re.Message != "nope" || re.Event != "fail" {
		t.Errorf("RemoteError %+v, want Event \"fail\", Message \"nope\"", re)
	}
}

// testAskClientToServer: the server answers asks with a result, with its
// handler's error, with the no-handler error, and with null for a handler
// that does not answer.
func testAskClientToServer(t *testing.T, mount Mount) {
	_, url := serve(t, mount, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("sum", func(m wsevents.Message) (any, error) {
			var xs []int
			if err := m.Decode(&xs); err != nil {
				return nil, err
			}
			sum := 0
			for _, x := range xs {
				sum += x
			}
			return sum, nil
		})
		c.On("fail", func(m wsevents.Message) (any, error) {
			return nil, errors.New("bad input: " + m.String())
		})
		c.On("plain", func(string) {})
	})
	cl := Dial(t, url, nil)

	cl.Send(ask(1, wsevents.KindJSON, "sum", "[1,2,3]"))
	cl.Expect(reply(1, wsevents.KindJSON, "6"))
	cl.Send(ask(2, wsevents.KindText, "fail", "x"))
	cl.Expect(errorReply(2, "bad input: x"))
	cl.Send(ask(3, wsevents.KindText, "missing", ""))
	cl.Expect(errorReply(3, `wsevents: no handler for event "missing"`))
	cl.Send(ask(4, wsevents.KindText, "plain", "hi"))
	cl.Expect(reply(4, wsevents.KindJSON, "null"))
}

// testBroadcast: All, Broadcast and connection IDs, from a connection and
// from the server.
func testBroadcast(t *testing.T, mount Mount) {
	srv, url := serve(t, mount, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("shout", func(s string) { c.To(wsevents.Broadcast).Emit("shout", s) })
		c.On("all", func(s string) { c.To(wsevents.All).Emit("all", s) })
		c.On("dm", func(to string) { c.To(to).Emit("dm", "from "+c.ID()) })
		welcome(c)
	})
	a, idA := dialWelcomed(t, url)
	b, idB := dialWelcomed(t, url)
	c, idC := dialWelcomed(t, url)
	clients := []*Client{a, b, c}
	if n := srv.Len(); n != 3 {
		t.Fatalf("srv.Len() = %d, want 3", n)
	}

	// Broadcast reaches everyone but the sender; the sender's next message
	// is the All that followed, so it did not get its own shout.
	a.Emit("shout", "hi")
	b.Expect(text("shout", "hi"))
	c.Expect(text("shout", "hi"))
	a.Emit("all", "x")
	for _, cl := range clients {
		cl.Expect(text("all", "x"))
	}

	// From the server, All and Broadcast both mean everyone.
	if err := srv.To(wsevents.All).Emit("news", 1); err != nil {
		t.Fatalf("srv.To(All).Emit: %v", err)
	}
	if err := srv.To(wsevents.Broadcast).Emit("news", 2); err != nil {
		t.Fatalf("srv.To(Broadcast).Emit: %v", err)
	}
	for _, cl := range clients {
		cl.Expect(jsonEvent("news", "1"))
		cl.Expect(jsonEvent("news", "2"))
	}

	// A connection ID reaches that connection only.
	a.Emit("dm", idC)
	c.Expect(text("dm", "from "+idA))
	if err := srv.To(idB).Emit("direct", "to b"); err != nil {
		t.Fatalf("srv.To(id).Emit: %v", err)
	}
	b.Expect(text("direct", "to b"))
	if err := srv.To("no-such-connection").Emit("direct", "x"); !errors.Is(err, wsevents.ErrNoConnection) {
		t.Errorf("srv.To(unknown).Emit = %v, want ErrNoConnection", err)
	}
	srv.To(wsevents.All).Emit("end", "")
	for _, cl := range clients {
		cl.Expect(text("end", ""))
	}
}

// testRooms: join, room emits from a connection and from the server,
// leave, the room registry, and rooms emptied by a disconnect.
func testRooms(t *testing.T, mount Mount) {
	left := make(chan string, 4)
	srv, url := serve(t, mount, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("join", func(m wsevents.Message) (any, error) {
			c.Join(m.String())
			return c.Rooms(), nil
		})
		c.On("leave", func(m wsevents.Message) (any, error) {
			return c.Leave(m.String()), nil
		})
		c.On("say", func(s string) { c.To("lobby").Emit("said", s) })
		c.OnLeave(func(room string) { left <- c.ID() + " " + room })
		welcome(c)
	})
	a, idA := dialWelcomed(t, url)
	b, idB := dialWelcomed(t, url)
	c, idC := dialWelcomed(t, url)

	a.Send(ask(1, wsevents.KindText, "join", "lobby"))
	a.Expect(reply(1, wsevents.KindJSON, `["lobby"]`))
	b.Send(ask(1, wsevents.KindText, "join", "lobby"))
	b.Expect(reply(1, wsevents.KindJSON, `["lobby"]`))
	c.Send(ask(1, wsevents.KindText, "join", "side"))
	c.Expect(reply(1, wsevents.KindJSON, `["side"]`))

	if n := srv.RoomLen("lobby"); n != 2 {
		t.Errorf(`srv.RoomLen("lobby") = %d, want 2`, n)
	}
	if got, want := srv.RoomMembers("lobby"), sorted(idA, idB); !slices.Equal(got, want) {
		t.Errorf(`srv.RoomMembers("lobby") = %v, want %v`, got, want)
	}
	if got := srv.Rooms(); !slices.Equal(got, []string{"lobby", "side"}) {
		t.Errorf("srv.Rooms() = %v, want [lobby side]", got)
	}
	if n := srv.RoomLen("nowhere"); n != 0 {
		t.Errorf(`srv.RoomLen("nowhere") = %d, want 0`, n)
	}

	// A room emit from a member reaches the other members only; one from
	// the server reaches every member. The end marker shows who got what.
	a.Emit("say", "hi")
	b.Expect(text("said", "hi"))
	srv.To("lobby").Emit("news", "n1")
	a.Expect(text("news", "n1"))
	b.Expect(text("news", "n1"))
	srv.To(wsevents.All).Emit("end", "1")
	for _, cl := range []*Client{a, b, c} {
		cl.Expect(text("end", "1"))
	}

	a.Send(ask(2, wsevents.KindText, "leave", "lobby"))
	a.Expect(reply(2, wsevents.KindJSON, "true"))
	if got := recv(t, left, "OnLeave"); got != idA+" lobby" {
		t.Errorf("OnLeave got %q, want %q", got, idA+" lobby")
	}
	a.Send(ask(3, wsevents.KindText, "leave", "lobby"))
	a.Expect(reply(3, wsevents.KindJSON, "false"))
	if got := srv.RoomMembers("lobby"); !slices.Equal(got, []string{idB}) {
		t.Errorf(`after a left: srv.RoomMembers("lobby") = %v, want [%s]`, got, idB)
	}
	srv.To("lobby").Emit("news", "n2")
	b.Expect(text("news", "n2"))
	srv.To(wsevents.All).Emit("end", "2")
	a.Expect(text("end", "2"))
	b.Expect(text("end", "2"))

	// A disconnect leaves every room; an empty room disappears.
	c.Conn.Close()
	if got := recv(t, left, "OnLeave after a disconnect"); got != idC+" side" {
		t.Errorf("OnLeave got %q, want %q", got, idC+" side")
	}
	waitFor(t, `room "side" to disappear`, func() bool { return slices.Equal(srv.Rooms(), []string{"lobby"}) })
	b.Send(ask(2, wsevents.KindText, "leave", "lobby"))
	b.Expect(reply(2, wsevents.KindJSON, "true"))
	if got := srv.Rooms(); len(got) != 0 {
		t.Errorf("srv.Rooms() = %v after everyone left, want none", got)
	}
	if n := srv.RoomLen("lobby"); n != 0 {
		t.Errorf(`srv.RoomLen("lobby") = %d after everyone left, want 0`, n)
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// testDisconnect: a client's close and the server's Disconnect both end
// the connection with 1000, run OnDisconnect, and free the server's slot.
func testDisconnect(t *testing.T, mount Mount) {
	gone := make(chan wsevents.Connection, 2)
	srv, url := serve(t, mount, wsevents.Config{}, func(c wsevents.Connection) {
		c.OnDisconnect(func() { gone <- c })
		welcome(c)
	})

	cl, id := dialWelcomed(t, url)
	if code := cl.Close(); code != websocket.CloseNormalClosure {
		t.Errorf("server answered the client's close with %d, want 1000", code)
	}
	c := recv(t, gone, "OnDisconnect after the client closed")
	if c.ID() != id {
		t.Errorf("OnDisconnect for %q, want %q", c.ID(), id)
	}
	if c.Context().Err() == nil {
		t.Error("connection context not done after OnDisconnect")
	}
	if n := srv.Len(); n != 0 {
		t.Errorf("srv.Len() = %d after the client closed, want 0", n)
	}
	if err := c.Emit("late", ""); err == nil {
		t.Error("Emit on a closed connection succeeded")
	}

	cl, id = dialWelcomed(t, url)
	c, ok := srv.Get(id)
	if !ok {
		t.Fatalf("srv.Get(%q): no such connection", id)
	}
	c.Emit("last", "queued before Disconnect")
	if err := c.Disconnect(); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	cl.Expect(text("last", "queued before Disconnect"))
	if code := cl.CloseCode(); code != websocket.CloseNormalClosure {
		t.Errorf("client saw close %d after Disconnect, want 1000", code)
	}
	recv(t, gone, "OnDisconnect after Disconnect")
	waitFor(t, "srv.Len() == 0 after Disconnect", func() bool { return srv.Len() == 0 })
}

// testShutdown: Shutdown closes live connections with 1001 and refuses
// new handshakes: 503 where a router keeps serving other routes, or no
// listener at all where the Server had one to itself (Serve closes it).
func testShutdown(t *testing.T, mount Mount) {
	srv, url := serve(t, mount, wsevents.Config{}, welcome)
	cl, _ := dialWelcomed(t, url)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	if code := cl.CloseCode(); code != websocket.CloseGoingAway {
		t.Errorf("client saw close %d on Shutdown, want 1001", code)
	}
	if err := recv(t, done, "Shutdown to return"); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	_, resp, err := handshake(url, nil, wsevents.Subprotocol)
	if err == nil {
		t.Fatal("handshake after Shutdown succeeded")
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return // the listener closed with the Server
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("handshake after Shutdown: %v, want 503 or a refused connection", statusOf(resp, err))
	}
}

// testRequest: the upgrade request, as the client sent it (query, headers,
// cookies), reaches the ID generator and c.Request() in OnConnection.
func testRequest(t *testing.T, mount Mount) {
	type seen struct{ id, user, header, cookie string }
	got := make(chan seen, 1)
	cfg := wsevents.Config{IDGenerator: func(r *http.Request) string {
		return "user-" + r.URL.Query().Get("user")
	}}
	_, wsURL := serve(t, mount, cfg, func(c wsevents.Connection) {
		r := c.Request()
		var cookie string
		if ck, err := r.Cookie("session"); err == nil {
			cookie = ck.Value
		}
		got <- seen{c.ID(), r.URL.Query().Get("user"), r.Header.Get("X-Wsevents-Test"), cookie}
	})
	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("user", "ann")
	u.RawQuery = q.Encode()
	Dial(t, u.String(), http.Header{"X-Wsevents-Test": {"42"}, "Cookie": {"session=s3cr3t; theme=dark"}})
	s := recv(t, got, "OnConnection")
	if s.user != "ann" {
		t.Errorf("c.Request() query user = %q, want %q", s.user, "ann")
	}
	if s.header != "42" {
		t.Errorf("c.Request() header X-Wsevents-Test = %q, want %q", s.header, "42")
	}
	if s.cookie != "s3cr3t" {
		t.Errorf("c.Request() cookie session = %q, want %q", s.cookie, "s3cr3t")
	}
	if s.id != "user-ann" {
		t.Errorf("IDGenerator saw a request without the query: ID %q, want %q", s.id, "user-ann")
	}
}

// testOrigin: the default origin policy refuses a cross-origin handshake
// with 403 and no upgrade, and accepts a same-host one.
func testOrigin(t *testing.T, mount Mount) {
	connected := make(chan struct{}, 2)
	srv, wsURL := serve(t, mount, wsevents.Config{}, func(wsevents.Connection) { connected <- struct{}{} })

	conn, resp, err := handshake(wsURL, http.Header{"Origin": {"http://evil.example"}}, wsevents.Subprotocol)
	if err == nil {
		conn.Close()
		t.Fatal("handshake from Origin http://evil.example was upgraded")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin handshake: %v, want 403", statusOf(resp, err))
	}
	if resp.Header.Get("Upgrade") != "" || resp.Header.Get("Sec-WebSocket-Accept") != "" {
		t.Errorf("403 response carries upgrade headers: %v", resp.Header)
	}
	if n := srv.Len(); n != 0 {
		t.Errorf("srv.Len() = %d after a refused handshake, want 0", n)
	}
	if st := srv.Stats(); st.Refused != 1 || st.Accepted != 0 {
		t.Errorf("Stats after a refused handshake: %+v, want 1 refused, 0 accepted", st)
	}

	u, err := url.Parse(wsURL)
	if err != nil {
		t.Fatal(err)
	}
	Dial(t, wsURL, http.Header{"Origin": {"http://" + u.Host}})
	recv(t, connected, "OnConnection for a same-host Origin")
	select {
	case <-connected:
		t.Error("OnConnection ran for the refused handshake")
	default:
	}
}

func statusOf(resp *http.Response, err error) string {
	if resp == nil {
		return "no response: " + err.Error()
	}
	return resp.Status
}

// testOversize: a message over MaxMessageSize closes the connection with
// 1009; one under it goes through.
func testOversize(t *testing.T, mount Mount) {
	const limit = 1 << 10
	gone := make(chan struct{}, 1)
	_, url := serve(t, mount, wsevents.Config{MaxMessageSize: limit}, func(c wsevents.Connection) {
		c.On("echo", func(s string) { c.Emit("echo", s) })
		c.OnDisconnect(func() { gone <- struct{}{} })
	})
	cl := Dial(t, url, nil)

	fits := strings.Repeat("a", limit-len("et:echo\n"))
	cl.Emit("echo", fits)
	cl.Expect(text("echo", fits))

	cl.Emit("echo", strings.Repeat("b", 2*limit))
	if code := cl.CloseCode(); code != websocket.CloseMessageTooBig {
		t.Errorf("client saw close %d for an oversize message, want 1009", code)
	}
	recv(t, gone, "OnDisconnect after an oversize message")
}

// idleFor is longer than core's idle time before a connection parks (on
// Linux its goroutine, the framework's handler goroutine, returns then).
const idleFor = 1500 * time.Millisecond

// testIdle: a connection that stays silent long enough to park (on Linux
// the adapter's handler has returned by then) keeps working: events both
// ways, server-side emits, its request and context, and a clean close.
func testIdle(t *testing.T, mount Mount) {
	got := make(chan string, 1)
	left := make(chan struct{})
	srv, url := serve(t, mount, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("chat", func(s string) {
			got <- s
			c.Emit("chat", "echo: "+s+" "+c.Request().URL.Path)
		})
		c.OnDisconnect(func() { close(left) })
		welcome(c)
	})
	cl, id := dialWelcomed(t, url)
	time.Sleep(idleFor) // silence, not a timing assertion

	if err := srv.To(id).Emit("news", "while idle"); err != nil {
		t.Fatalf("emit to the idle connection: %v", err)
	}
	cl.Expect(text("news", "while idle"))
	time.Sleep(idleFor)
	cl.Emit("chat", "woke")
	if s := recv(t, got, `"chat" handler`); s != "woke" {
		t.Fatalf(`"chat" handler got %q, want "woke"`, s)
	}
	c, ok := srv.Get(id)
	if !ok {
		t.Fatal("the idle connection is no longer registered")
	}
	cl.Expect(text("chat", "echo: woke "+c.Request().URL.Path))
	if err := c.Context().Err(); err != nil {
		t.Fatalf("context of the idle connection: %v", err)
	}
	time.Sleep(idleFor)
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}
	if code := cl.CloseCode(); code != int(wsevents.StatusNormalClosure) {
		t.Fatalf("close code %d, want 1000", code)
	}
	recv(t, left, "OnDisconnect")
}
