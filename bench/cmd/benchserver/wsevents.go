package main

import (
	"net"
	"net/http"

	wsevents "github.com/wsevents/wsevents/core"
)

// wseventsServers: one wsevents Server per path. The same servers are
// mounted on net/http (wseventsHandler, as the README's quick start does)
// and on Gin, Echo and Iris (adapters.go). EmitRaw is the documented
// hot-path emit.
type wseventsServers struct {
	echo, bcast, events, rooms *wsevents.Server
}

// nativeEcho sends each message back; a Message keeps its kind: text back
// as text (examples/echo).
func nativeEcho(c wsevents.Connection) {
	c.OnMessage(func(m wsevents.Message) { c.EmitMessage(m) })
}

// eventEcho answers event "echo" with the same payload.
func eventEcho(c wsevents.Connection) {
	c.On("echo", func(m wsevents.Message) { c.EmitRaw("echo", m.Kind, m.Data) })
}

func newWseventsServers() wseventsServers {
	echo := wsevents.New(wsevents.Config{})
	echo.OnConnection(nativeEcho)

	bcast := wsevents.New(wsevents.Config{})
	bcast.OnConnection(func(c wsevents.Connection) {
		c.OnMessage(func(m wsevents.Message) { c.To(wsevents.All).EmitMessage(m) })
	})

	events := wsevents.New(wsevents.Config{})
	events.OnConnection(func(c wsevents.Connection) {
		eventEcho(c)
		c.On("bcast", func(m wsevents.Message) { c.To(wsevents.All).EmitRaw("bcast", m.Kind, m.Data) })
	})

	// Rooms: the connection joins the room its path names before any of
	// its messages is read. The server's emitter addresses every member,
	// the sender included (c.To(room) would leave the sender out, and
	// emitting to it apart would encode the message twice). A connection
	// in event mode (subprotocol wsevents.v1) sends event "rooms", a native
	// one plain messages.
	rooms := wsevents.New(wsevents.Config{})
	rooms.OnConnection(func(c wsevents.Connection) {
		room := roomOf(c.Request())
		if err := c.Join(room); err != nil {
			c.Close(wsevents.StatusPolicyViolation, err.Error())
			return
		}
		to := rooms.To(room)
		c.OnMessage(func(m wsevents.Message) { to.EmitMessage(m) })
		c.On("rooms", func(m wsevents.Message) { to.EmitRaw("rooms", m.Kind, m.Data) })
	})
	return wseventsServers{echo: echo, bcast: bcast, events: events, rooms: rooms}
}

func wseventsHandler() http.Handler {
	ws := newWseventsServers()
	mux := http.NewServeMux()
	mux.Handle("GET /echo", ws.echo)
	mux.Handle("GET /bcast", ws.bcast)
	mux.Handle("GET /events", ws.events)
	mux.Handle("GET /rooms/", ws.rooms)
	return mux
}

// wseventsServe is wsevents on its raw-listener path: one Server takes the
// whole listener (Server.Serve) and routes by path itself, /events to the
// event echo and anything else to the native echo, as the echo and events
// servers above do.
func wseventsServe(ln net.Listener) error {
	srv := wsevents.New(wsevents.Config{})
	srv.OnConnection(func(c wsevents.Connection) {
		if c.Request().URL.Path == "/events" {
			eventEcho(c)
			return
		}
		nativeEcho(c)
	})
	return srv.Serve(ln)
}
