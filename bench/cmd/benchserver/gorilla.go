package main

import (
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// gorillaHandler: echo is gorilla's examples/echo (ReadMessage /
// WriteMessage loop); broadcast is examples/chat's hub (one goroutine
// owning the client set, a 256-message send channel and a write pump per
// client). Unlike the chat example, the write pump sends each queued
// message as its own WebSocket message (the example joins queued messages
// with newlines into one, which would change what is counted).
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
	return mux
}

type gorillaHub struct {
	clients    map[*gorillaClient]bool
	broadcast  chan []byte
	register   chan *gorillaClient
	unregister chan *gorillaClient
	once       sync.Once
}

func newGorillaHub() *gorillaHub {
	return &gorillaHub{
		clients:    make(map[*gorillaClient]bool),
		broadcast:  make(chan []byte),
		register:   make(chan *gorillaClient),
		unregister: make(chan *gorillaClient),
	}
}

func (h *gorillaHub) run() {
	for {
		select {
		case c := <-h.register:
			h.clients[c] = true
		case c := <-h.unregister:
			if _, ok := h.clients[c]; ok {
				delete(h.clients, c)
				close(c.send)
			}
		case message := <-h.broadcast:
			for c := range h.clients {
				select {
				case c.send <- message:
				default: // as in the example: a client that cannot keep up is dropped
					close(c.send)
					delete(h.clients, c)
				}
			}
		}
	}
}

type gorillaClient struct {
	hub  *gorillaHub
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
		c.hub.broadcast <- message
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
