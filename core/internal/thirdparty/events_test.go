package thirdparty

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
)

// peer is one of the independent clients, in event mode.
type peer struct {
	name string
	send func(t testing.TB, binary bool, p []byte)
	read func(t testing.TB) (binary bool, p []byte)
}

func (p peer) readMsg(t testing.TB) wmsg {
	t.Helper()
	_, b := p.read(t)
	m, err := dec(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func gorillaPeer(t testing.TB, h *harness) peer { return gorillaPeerOf(gorillaEvents(t, h)) }

func gorillaPeerOf(c *websocket.Conn) peer {
	return peer{
		name: "gorilla",
		send: func(t testing.TB, binary bool, p []byte) {
			t.Helper()
			typ := websocket.TextMessage
			if binary {
				typ = websocket.BinaryMessage
			}
			gorillaSend(t, c, typ, p)
		},
		read: func(t testing.TB) (bool, []byte) {
			t.Helper()
			typ, p := gorillaRead(t, c)
			return typ == websocket.BinaryMessage, p
		},
	}
}

func coderPeer(t testing.TB, h *harness) peer {
	c := coderEvents(t, h)
	return peer{
		name: "coder",
		send: func(t testing.TB, binary bool, p []byte) {
			t.Helper()
			typ := coder.MessageText
			if binary {
				typ = coder.MessageBinary
			}
			coderSend(t, c, typ, p)
		},
		read: func(t testing.TB) (bool, []byte) {
			t.Helper()
			typ, p := coderRead(t, c)
			return typ == coder.MessageBinary, p
		},
	}
}

var peers = []func(testing.TB, *harness) peer{gorillaPeer, coderPeer}

func expectMsg(t testing.TB, got wmsg, want wmsg) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestEventsBothWays(t *testing.T) {
	type point struct{ X, Y int }
	h := start(t, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("chat", func(s string) { c.Emit("chat", "echo: "+s) })
		c.On("move", wsevents.JSON(func(p point) { c.Emit("moved", p) }))
		c.On("blob", func(b []byte) { c.Emit("blob", b) })
		c.On("kind", func(m wsevents.Message) { c.Emit("kind", m.Kind.String()) })
	})
	for _, dial := range peers {
		p := dial(t, h)
		t.Run(p.name, func(t *testing.T) {
			sc := h.next(t)
			p.send(t, false, event("chat", "hello"))
			expectMsg(t, p.readMsg(t), wmsg{'e', 't', 0, "chat", "echo: hello"})

			p.send(t, false, enc('e', 'j', 0, "move", `{"X":1,"Y":2}`))
			expectMsg(t, p.readMsg(t), wmsg{'e', 'j', 0, "moved", `{"X":1,"Y":2}`})

			blob := []byte{0, 1, 2, 0xff, '\n'}
			p.send(t, true, enc('e', 'b', 0, "blob", string(blob)))
			bin, raw := p.read(t)
			if !bin {
				t.Fatal("binary event came in a text frame")
			}
			if want := enc('e', 'b', 0, "blob", string(blob)); !bytes.Equal(raw, want) {
				t.Fatalf("got %q, want %q", raw, want)
			}

			// Any kind in either frame type; extensions a v1 receiver ignores.
			p.send(t, true, enc('e', 'j', 0, "kind;s=42;r=lobby", "1"))
			expectMsg(t, p.readMsg(t), wmsg{'e', 't', 0, "kind", "json"})

			// Server to client, from outside any handler, and the kinds.
			sc.Emit("n", 42)
			sc.Emit("s", "42")
			sc.Emit("nil", nil)
			h.srv.To(sc.ID()).Emit("to-id", true)
			expectMsg(t, p.readMsg(t), wmsg{'e', 'j', 0, "n", "42"})
			expectMsg(t, p.readMsg(t), wmsg{'e', 't', 0, "s", "42"})
			expectMsg(t, p.readMsg(t), wmsg{'e', 'j', 0, "nil", "null"})
			expectMsg(t, p.readMsg(t), wmsg{'e', 'j', 0, "to-id", "true"})
		})
	}
}

func TestAskClientToServer(t *testing.T) {
	h := start(t, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("sum", func(m wsevents.Message) (any, error) {
			var xs []int
			if err := m.Decode(&xs); err != nil {
				return nil, err
			}
			n := 0
			for _, x := range xs {
				n += x
			}
			return n, nil
		})
		c.On("fail", func(wsevents.Message) (any, error) { return nil, errors.New("x") })
		c.On("note", func(string) {})
	})
	for _, dial := range peers {
		p := dial(t, h)
		t.Run(p.name, func(t *testing.T) {
			h.next(t)
			p.send(t, false, []byte("aj1:sum\n[1,2]"))
			expectMsg(t, p.readMsg(t), wmsg{'r', 'j', 1, "", "3"})

			p.send(t, false, []byte("aj2:fail\nnull"))
			expectMsg(t, p.readMsg(t), wmsg{'x', 't', 2, "", "x"})

			p.send(t, false, []byte("aj3:nope\n1"))
			expectMsg(t, p.readMsg(t), wmsg{'x', 't', 3, "", `wsevents: no handler for event "nope"`})

			// A handler that does not answer: the reply is null, at once.
			p.send(t, false, []byte("at4:note\nhi"))
			expectMsg(t, p.readMsg(t), wmsg{'r', 'j', 4, "", "null"})

			// The largest id JavaScript holds exactly.
			p.send(t, true, []byte("aj9007199254740991:sum\n[40,2]"))
			expectMsg(t, p.readMsg(t), wmsg{'r', 'j', 9007199254740991, "", "42"})
		})
	}
}

func TestAskServerToClient(t *testing.T) {
	h := start(t, wsevents.Config{}, nil)
	for _, dial := range peers {
		p := dial(t, h)
		t.Run(p.name, func(t *testing.T) {
			sc := h.next(t)
			type result struct {
				m   wsevents.Message
				err error
			}
			ask := func(event string, data any) chan result {
				ch := make(chan result, 1)
				go func() {
					ctx, cancel := ctxWait()
					defer cancel()
					m, err := sc.Ask(ctx, event, data)
					ch <- result{m, err}
				}()
				return ch
			}

			res := ask("q", "ping")
			expectMsg(t, p.readMsg(t), wmsg{'a', 't', 1, "q", "ping"})
			// A reply nobody waits for is ignored, the connection stays.
			p.send(t, false, []byte("rj99:\n1"))
			p.send(t, false, []byte("rt1:\npong"))
			if r := recv(t, res); r.err != nil || r.m.Kind != wsevents.KindText || string(r.m.Data) != "pong" || r.m.Event != "q" {
				t.Fatalf("Ask = %+v, %v; want text \"pong\"", r.m, r.err)
			}

			res = ask("sum", []int{1, 2})
			expectMsg(t, p.readMsg(t), wmsg{'a', 'j', 2, "sum", "[1,2]"})
			p.send(t, true, []byte("rj2:\n3"))
			if r := recv(t, res); r.err != nil || r.m.Kind != wsevents.KindJSON || string(r.m.Data) != "3" {
				t.Fatalf("Ask = %+v, %v; want JSON 3", r.m, r.err)
			}

			res = ask("q", "again")
			expectMsg(t, p.readMsg(t), wmsg{'a', 't', 3, "q", "again"})
			p.send(t, false, []byte("xt3:\nnope"))
			r := recv(t, res)
			var re *wsevents.RemoteError
			if !errors.As(r.err, &re) || re.Message != "nope" || re.Event != "q" {
				t.Fatalf("Ask error = %v, want a RemoteError \"nope\"", r.err)
			}

			// The connection's end ends a pending Ask.
			res = ask("q", "never answered")
			p.readMsg(t)
			sc.Disconnect()
			if r := recv(t, res); !errors.Is(r.err, wsevents.ErrClosed) {
				t.Fatalf("Ask on a closed connection = %v, want ErrClosed", r.err)
			}
		})
	}
}

func TestAskTimeout(t *testing.T) {
	h := start(t, wsevents.Config{}, nil)
	p := gorillaPeer(t, h)
	sc := h.next(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := sc.Ask(ctx, "q", "x")
		done <- err
	}()
	expectMsg(t, p.readMsg(t), wmsg{'a', 't', 1, "q", "x"})
	cancel()
	if err := recv(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Ask = %v, want context.Canceled", err)
	}
	// The late answer is ignored: the connection lives on.
	p.send(t, false, []byte("rt1:\nlate"))
	sc.Emit("still", "open")
	expectMsg(t, p.readMsg(t), wmsg{'e', 't', 0, "still", "open"})
}

func TestBroadcast(t *testing.T) {
	h := start(t, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("shout", func(s string) { c.To(wsevents.Broadcast).Emit("shout", s) })
		c.On("all", func(s string) { c.To(wsevents.All).Emit("all", s) })
	})
	a := gorillaPeer(t, h)
	h.next(t)
	b := coderPeer(t, h)
	h.next(t)
	c := gorillaPeer(t, h)
	h.next(t)
	native := dialGorilla(t, h, websocket.Dialer{}, nil) // no subprotocol
	h.next(t)

	a.send(t, false, event("shout", "hi"))
	a.send(t, false, event("all", "end"))
	for _, p := range []peer{b, c} {
		expectMsg(t, p.readMsg(t), wmsg{'e', 't', 0, "shout", "hi"})
		expectMsg(t, p.readMsg(t), wmsg{'e', 't', 0, "all", "end"})
	}
	// The sender's queue holds the events in order: "all" first means
	// "shout" never came.
	expectMsg(t, a.readMsg(t), wmsg{'e', 't', 0, "all", "end"})

	// Events skip native connections; native messages reach everyone, in
	// each connection's framing.
	h.srv.To(wsevents.All).Emit("tick", 1)
	h.srv.To(wsevents.All).EmitMessage("plain")
	for _, p := range []peer{a, b, c} {
		expectMsg(t, p.readMsg(t), wmsg{'e', 'j', 0, "tick", "1"})
		expectMsg(t, p.readMsg(t), wmsg{'m', 't', 0, "", "plain"})
	}
	typ, msg := gorillaRead(t, native)
	if typ != websocket.TextMessage || string(msg) != "plain" {
		t.Fatalf("native client got %d %q first, want text \"plain\"", typ, msg)
	}
}

func TestRooms(t *testing.T) {
	left := make(chan string, 8)
	h := start(t, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("join", func(room string) { c.Join(room) })
		c.On("leave", func(m wsevents.Message) (any, error) { return c.Leave(m.String()), nil })
		c.On("say", func(s string) { c.To("lobby").Emit("said", s) })
		c.OnLeave(func(room string) { left <- c.ID() + " " + room })
	})
	a := gorillaPeer(t, h)
	aid := h.next(t).ID()
	b := coderPeer(t, h)
	bid := h.next(t).ID()
	cconn := gorillaEvents(t, h)
	c := gorillaPeerOf(cconn)
	cid := h.next(t).ID()

	// An ask of a non-answering handler is answered once it ran: a sync point.
	a.send(t, false, []byte("at1:join\nlobby"))
	expectMsg(t, a.readMsg(t), wmsg{'r', 'j', 1, "", "null"})
	b.send(t, false, []byte("at1:join\nlobby"))
	expectMsg(t, b.readMsg(t), wmsg{'r', 'j', 1, "", "null"})
	if rooms := h.srv.Rooms(); !slices.Equal(rooms, []string{"lobby"}) {
		t.Fatalf("Rooms = %v", rooms)
	}
	if members, want := h.srv.RoomMembers("lobby"), sorted(aid, bid); !slices.Equal(members, want) {
		t.Fatalf("RoomMembers = %v, want %v", members, want)
	}

	a.send(t, false, event("say", "hello"))
	expectMsg(t, b.readMsg(t), wmsg{'e', 't', 0, "said", "hello"})
	h.srv.To("lobby").Emit("from-server", "x")
	h.srv.To(wsevents.All).Emit("mark", "1")
	// a (the sender) and c (not a member) got no "said".
	expectMsg(t, a.readMsg(t), wmsg{'e', 't', 0, "from-server", "x"})
	expectMsg(t, b.readMsg(t), wmsg{'e', 't', 0, "from-server", "x"})
	for _, p := range []peer{a, b, c} {
		expectMsg(t, p.readMsg(t), wmsg{'e', 't', 0, "mark", "1"})
	}

	a.send(t, false, []byte("at2:leave\nlobby"))
	expectMsg(t, a.readMsg(t), wmsg{'r', 'j', 2, "", "true"})
	if got := recv(t, left); got != aid+" lobby" {
		t.Fatalf("OnLeave: %q", got)
	}
	a.send(t, false, []byte("at3:leave\nlobby"))
	expectMsg(t, a.readMsg(t), wmsg{'r', 'j', 3, "", "false"})
	b.send(t, false, event("say", "anyone?"))
	b.send(t, false, []byte("at2:leave\nlobby"))
	expectMsg(t, b.readMsg(t), wmsg{'r', 'j', 2, "", "true"})
	recv(t, left)
	if rooms := h.srv.Rooms(); len(rooms) != 0 || h.srv.RoomLen("lobby") != 0 {
		t.Fatalf("Rooms = %v after everyone left: an empty room must disappear", rooms)
	}

	// Disconnecting leaves every room.
	c.send(t, false, []byte("at1:join\nother"))
	expectMsg(t, c.readMsg(t), wmsg{'r', 'j', 1, "", "null"})
	sc, _ := h.srv.Get(cid)
	sc.Disconnect()
	if code := gorillaCloseCode(t, cconn); code != 1000 {
		t.Fatalf("close %d", code)
	}
	if got := recv(t, left); got != cid+" other" {
		t.Fatalf("OnLeave on disconnect: %q", got)
	}
	h.waitGone(t, cid)
	if rooms := h.srv.Rooms(); len(rooms) != 0 {
		t.Fatalf("Rooms = %v after the last member disconnected", rooms)
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func TestNativeMode(t *testing.T) {
	h := start(t, wsevents.Config{Subprotocols: []string{"chat.v2"}}, func(c wsevents.Connection) {
		c.OnMessage(func(m wsevents.Message) { c.EmitMessage(m) })
	})
	t.Run("gorilla", func(t *testing.T) {
		c := dialGorilla(t, h, websocket.Dialer{}, nil)
		sc := h.next(t)
		if sc.Subprotocol() != "" {
			t.Fatalf("Subprotocol = %q, want native mode", sc.Subprotocol())
		}
		if err := sc.Emit("x", 1); !errors.Is(err, wsevents.ErrNativeConnection) {
			t.Fatalf("Emit on a native connection = %v", err)
		}
		for _, tc := range []struct {
			typ int
			p   []byte
		}{
			{websocket.TextMessage, []byte("hello")},
			{websocket.TextMessage, []byte("et:chat\nlooks like an event")},
			{websocket.BinaryMessage, []byte{0, 1, 2, 0xff}},
			{websocket.BinaryMessage, []byte("valid UTF-8 but binary")},
			{websocket.TextMessage, nil},
		} {
			gorillaSend(t, c, tc.typ, tc.p)
			typ, p := gorillaRead(t, c)
			if typ != tc.typ || !bytes.Equal(p, tc.p) {
				t.Fatalf("echo of %d %q = %d %q", tc.typ, tc.p, typ, p)
			}
		}
	})
	t.Run("coder with a configured subprotocol", func(t *testing.T) {
		c := dialCoder(t, h, &coder.DialOptions{Subprotocols: []string{"other", "chat.v2"}})
		sc := h.next(t)
		if c.Subprotocol() != "chat.v2" || sc.Subprotocol() != "chat.v2" {
			t.Fatalf("subprotocol %q / %q, want chat.v2", c.Subprotocol(), sc.Subprotocol())
		}
		coderSend(t, c, coder.MessageBinary, []byte{9, 8, 7})
		if typ, p := coderRead(t, c); typ != coder.MessageBinary || !bytes.Equal(p, []byte{9, 8, 7}) {
			t.Fatalf("echo = %v %q", typ, p)
		}
		coderSend(t, c, coder.MessageText, []byte("héllo"))
		if typ, p := coderRead(t, c); typ != coder.MessageText || string(p) != "héllo" {
			t.Fatalf("echo = %v %q", typ, p)
		}
	})
	t.Run("event mode preferred", func(t *testing.T) {
		c := dialGorilla(t, h, websocket.Dialer{Subprotocols: []string{"chat.v2", proto}}, nil)
		h.next(t)
		if c.Subprotocol() != proto {
			t.Fatalf("subprotocol %q, want %q", c.Subprotocol(), proto)
		}
		// In event mode a native message travels as "m".
		gorillaSend(t, c, websocket.TextMessage, []byte("mt:\nplain"))
		if m := gorillaReadMsg(t, c); m != (wmsg{'m', 't', 0, "", "plain"}) {
			t.Fatalf("got %v", m)
		}
	})
}

// Bytes sent in the same TCP write as the handshake reach the handlers.
func TestPipelinedAfterHandshake(t *testing.T) {
	got := make(chan string, 4)
	h := start(t, wsevents.Config{}, func(c wsevents.Connection) {
		c.On("chat", func(s string) {
			got <- s
			c.Emit("chat", "echo:"+s)
		})
	})
	frames := append(clientFrame(fin, opText, event("chat", "early")), clientFrame(fin, opText, event("chat", "second"))...)
	rc := dialRaw(t, h, "Sec-WebSocket-Protocol: "+proto+"\r\n", frames)
	if p := rc.resp.Header.Get("Sec-WebSocket-Protocol"); p != proto {
		t.Fatalf("subprotocol %q", p)
	}
	for _, want := range []string{"early", "second"} {
		if s := recv(t, got); s != want {
			t.Fatalf("handler got %q, want %q", s, want)
		}
		f := rc.readData()
		if m, _ := dec(f.payload); m != (wmsg{'e', 't', 0, "chat", "echo:" + want}) {
			t.Fatalf("got %v", m)
		}
	}
}
