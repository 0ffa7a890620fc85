package main

import (
	"net/http"

	wsevents "github.com/wsevents/wsevents/core"
)

// wseventsHandler: one wsevents Server per path, mounted on net/http as
// the README's quick start does. EmitRaw is the documented hot-path emit.
func wseventsHandler() http.Handler {
	echo := wsevents.New(wsevents.Config{})
	echo.OnConnection(func(c wsevents.Connection) {
		// A Message keeps its kind: text back as text (examples/echo).
		c.OnMessage(func(m wsevents.Message) { c.EmitMessage(m) })
	})

	bcast := wsevents.New(wsevents.Config{})
	bcast.OnConnection(func(c wsevents.Connection) {
		c.OnMessage(func(m wsevents.Message) { c.To(wsevents.All).EmitMessage(m) })
	})

	events := wsevents.New(wsevents.Config{})
	events.OnConnection(func(c wsevents.Connection) {
		c.On("echo", func(m wsevents.Message) { c.EmitRaw("echo", m.Kind, m.Data) })
		c.On("bcast", func(m wsevents.Message) { c.To(wsevents.All).EmitRaw("bcast", m.Kind, m.Data) })
	})

	mux := http.NewServeMux()
	mux.Handle("GET /echo", echo)
	mux.Handle("GET /bcast", bcast)
	mux.Handle("GET /events", events)
	return mux
}
