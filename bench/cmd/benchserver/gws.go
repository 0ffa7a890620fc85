package main

import (
	"net/http"
	"sync"

	"github.com/lxzan/gws"
)

// gwsHandler: gws's README "Best Practice" (net/http upgrader, ReadLoop in
// a goroutine) with the "Quick Start" options: no parallel processing and
// no compression, the fastest gws configuration for this test. Broadcast
// is the README's Broadcaster loop.
func gwsHandler() http.Handler {
	echo := gws.NewUpgrader(&gwsEcho{}, &gws.ServerOption{})
	hub := &gwsHub{conns: make(map[*gws.Conn]struct{})}
	bcast := gws.NewUpgrader(hub, &gws.ServerOption{})
	serve := func(up *gws.Upgrader) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			socket, err := up.Upgrade(w, r)
			if err != nil {
				return
			}
			go socket.ReadLoop()
		}
	}
	// Rooms: Authorize stores what OnOpen needs in the connection's
	// session (here the room of the path), as gws's examples/chatroom
	// stores the user's name; a map of rooms to members, broadcast with a
	// Broadcaster as /bcast does.
	rh := &gwsRooms{rooms: make(map[string]map[*gws.Conn]struct{})}
	rooms := gws.NewUpgrader(rh, &gws.ServerOption{
		Authorize: func(r *http.Request, session gws.SessionStorage) bool {
			session.Store("room", roomOf(r))
			return true
		},
	})
	mux := http.NewServeMux()
	mux.Handle("GET /echo", serve(echo))
	mux.Handle("GET /bcast", serve(bcast))
	mux.Handle("GET /rooms/", serve(rooms))
	return mux
}

type gwsEcho struct{ gws.BuiltinEventHandler }

func (gwsEcho) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	socket.WriteMessage(message.Opcode, message.Bytes())
}

type gwsHub struct {
	gws.BuiltinEventHandler
	mu    sync.RWMutex
	conns map[*gws.Conn]struct{}
}

func (h *gwsHub) OnOpen(socket *gws.Conn) {
	h.mu.Lock()
	h.conns[socket] = struct{}{}
	h.mu.Unlock()
}

func (h *gwsHub) OnClose(socket *gws.Conn, err error) {
	h.mu.Lock()
	delete(h.conns, socket)
	h.mu.Unlock()
}

func (h *gwsHub) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	b := gws.NewBroadcaster(message.Opcode, message.Bytes())
	defer b.Close()
	h.mu.RLock()
	for c := range h.conns {
		_ = b.Broadcast(c)
	}
	h.mu.RUnlock()
}

type gwsRooms struct {
	gws.BuiltinEventHandler
	mu    sync.RWMutex
	rooms map[string]map[*gws.Conn]struct{}
}

func gwsRoom(socket *gws.Conn) string {
	v, _ := socket.Session().Load("room")
	room, _ := v.(string)
	return room
}

func (h *gwsRooms) OnOpen(socket *gws.Conn) {
	room := gwsRoom(socket)
	h.mu.Lock()
	members := h.rooms[room]
	if members == nil {
		members = make(map[*gws.Conn]struct{})
		h.rooms[room] = members
	}
	members[socket] = struct{}{}
	h.mu.Unlock()
}

func (h *gwsRooms) OnClose(socket *gws.Conn, err error) {
	room := gwsRoom(socket)
	h.mu.Lock()
	delete(h.rooms[room], socket)
	if len(h.rooms[room]) == 0 {
		delete(h.rooms, room)
	}
	h.mu.Unlock()
}

func (h *gwsRooms) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	b := gws.NewBroadcaster(message.Opcode, message.Bytes())
	defer b.Close()
	h.mu.RLock()
	for c := range h.rooms[gwsRoom(socket)] {
		_ = b.Broadcast(c)
	}
	h.mu.RUnlock()
}
