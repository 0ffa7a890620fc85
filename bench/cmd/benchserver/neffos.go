package main

import (
	"net/http"

	"github.com/kataras/neffos"
	"github.com/kataras/neffos/gobwas"
)

// neffosHandler: neffos v0.0.24 on its gobwas upgrader. /echo is its
// native-message mode (only the "" namespace with OnNativeMessage, so plain
// clients need no neffos handshake); /events is namespace "default" with
// "echo" (Emit back) and "bcast" (Server.Broadcast to the namespace). sync
// sets Server.SyncBroadcaster; the default broadcaster coalesces bursts.
// Rooms are neffos's namespace rooms: the client joins one with neffos's
// room join (the "_OnRoomJoin" ask its client's JoinRoom sends) and sends
// event "rooms" in it; /rooms/N serves the same server, the path unused.
func neffosHandler(sync bool) http.Handler {
	echo := neffos.New(gobwas.DefaultUpgrader, neffos.Events{
		neffos.OnNativeMessage: func(c *neffos.NSConn, msg neffos.Message) error {
			c.Conn.Write(msg)
			return nil
		},
	})
	var events *neffos.Server
	events = neffos.New(gobwas.DefaultUpgrader, neffos.Namespaces{
		"default": neffos.Events{
			"echo": func(c *neffos.NSConn, msg neffos.Message) error {
				c.Emit("echo", msg.Body)
				return nil
			},
			"bcast": func(c *neffos.NSConn, msg neffos.Message) error {
				events.Broadcast(nil, neffos.Message{Namespace: "default", Event: "bcast", Body: msg.Body})
				return nil
			},
			// A message sent in a room (msg.Room) goes to the room: a
			// Server.Broadcast naming the room, which neffos delivers to
			// the connections that joined it, the sender included.
			"rooms": func(c *neffos.NSConn, msg neffos.Message) error {
				if msg.Room == "" || c.Room(msg.Room) == nil {
					return neffos.ErrBadRoom
				}
				events.Broadcast(nil, neffos.Message{Namespace: "default", Room: msg.Room, Event: "rooms", Body: msg.Body})
				return nil
			},
		},
	})
	events.SyncBroadcaster = sync
	mux := http.NewServeMux()
	mux.Handle("GET /echo", echo)
	mux.Handle("GET /events", events)
	mux.Handle("GET /rooms/", events)
	return mux
}
