package main

import (
	"net/http"

	"github.com/gorilla/websocket"
)

// gorillaHandler: echo is gorilla's examples/echo (ReadMessage /
// WriteMessage loop); broadcast is examples/chat's hub (one goroutine
// owning the client set, a 256-message send channel and a write pump per
// client). Unlike the chat example, the write pump sends each queued
// message as its own WebSocket message (the example joins queued messages
// with newlines into one, which would change what is counted). Rooms are
// the same hub with a client set per room.
func gorillaHandler() http.Handler {
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
	hub := newGorillaHub()
	go hub.run()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, message, err := c.ReadMessage()
			if err != nil {
				break
			}
			if err := c.WriteMessage(mt, message); err != nil {
				break
			}
		}
	})
	mux.HandleFunc("GET /bcast", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		cl := &gorillaClient{hub: hub, conn: c, send: make(chan []byte, 256)}
		hub.register <- cl
		go cl.writePump()
		cl.readPump()
	})
	// Rooms: the chat hub with a client set per room; the client carries
	// its room, and a broadcast goes to the sender's room only.
	rooms := newGorillaHub()
	go rooms.run()
	mux.HandleFunc("GET /rooms/", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		cl := &gorillaClient{hub: rooms, room: roomOf(r), conn: c, send: make(chan []byte, 256)}
		rooms.register <- cl
		go cl.writePump()
		cl.readPump()
	})
	return mux
}

// gorillaHub is the chat example's hub, its client set split by room
// (/bcast: every client is in room "").
type gorillaHub struct {
	rooms      map[string]map[*gorillaClient]bool
	broadcast  chan gorillaMessage
	register   chan *gorillaClient
	unregister chan *gorillaClient
}

type gorillaMessage struct {
	room string
	data []byte
}

func newGorillaHub() *gorillaHub {
	return &gorillaHub{
		rooms:      make(map[string]map[*gorillaClient]bool),
		broadcast:  make(chan gorillaMessage),
		register:   make(chan *gorillaClient),
		unregister: make(chan *gorillaClient),
	}
}

func (h *gorillaHub) run() {
	for {
		select {
		case c := <-h.register:
			clients := h.rooms[c.room]
			if clients == nil {
				clients = make(map[*gorillaClient]bool)
				h.rooms[c.room] = clients
			}
			clients[c] = true
		case c := <-h.unregister:
			h.remove(c)
		case m := <-h.broadcast:
			for c := range h.rooms[m.room] {
				select {
				case c.send <- m.data:
				default: // as in the example: a client that cannot keep up is dropped
					h.remove(c)
				}
			}
		}
	}
}

func (h *gorillaHub) remove(c *gorillaClient) {
	clients := h.rooms[c.room]
	if _, ok := clients[c]; !ok {
		return
	}
	delete(clients, c)
	close(c.send)
	if len(clients) == 0 {
		delete(h.rooms, c.room)
	}
}

type gorillaClient struct {
	hub  *gorillaHub
	room string
	conn *websocket.Conn
	send chan []byte
}

func (c *gorillaClient) readPump() {
	defer func() {
		c.hub.unregister <- c
		c.conn.Close()
	}()
	for {
		_, message, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.hub.broadcast <- gorillaMessage{room: c.room, data: message}
	}
}

func (c *gorillaClient) writePump() {
	defer c.conn.Close()
	for message := range c.send {
		if err := c.conn.WriteMessage(websocket.TextMessage, message); err != nil {
			return
		}
	}
	c.conn.WriteMessage(websocket.CloseMessage, []byte{})
}
