package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// coderHandler: echo with Read/Write (the examples' echo streams each
// message with Reader/Writer and io.Copy behind a rate limiter; Read/Write
// is cheaper, so the comparison favours coder). Broadcast is the chat
// example's design: subscribers with a buffered channel and a writer
// goroutine each (buffer 256 instead of the example's 16, the same depth
// gorilla's hub gets; a full buffer drops the subscriber as there). Rooms
// are a hub per room.
func coderHandler() http.Handler {
	hub := &coderHub{subs: make(map[*coderSub]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		for {
			typ, p, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, p); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("GET /bcast", func(w http.ResponseWriter, r *http.Request) { coderSubscribe(w, r, hub) })
	// Rooms: a hub per room, created with the room's first subscriber.
	rooms := &coderRooms{hubs: make(map[string]*coderHub), refs: make(map[string]int)}
	mux.HandleFunc("GET /rooms/", func(w http.ResponseWriter, r *http.Request) {
		room := roomOf(r)
		h := rooms.join(room)
		defer rooms.leave(room)
		coderSubscribe(w, r, h)
	})
	return mux
}

// coderSubscribe is the chat example's subscribe: each message read is
// published to hub, and what hub sends is written from this goroutine.
func coderSubscribe(w http.ResponseWriter, r *http.Request, hub *coderHub) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &coderSub{msgs: make(chan []byte, 256), closeSlow: func() { c.Close(websocket.StatusPolicyViolation, "slow") }}
	hub.add(s)
	defer hub.remove(s)
	go func() {
		for {
			_, p, err := c.Read(ctx)
			if err != nil {
				cancel()
				return
			}
			hub.publish(p)
		}
	}()
	for {
		select {
		case msg := <-s.msgs:
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Write(wctx, websocket.MessageText, msg)
			wcancel()
			if err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// coderRooms counts each room's subscribers, so that an empty room's hub
// goes away.
type coderRooms struct {
	mu   sync.Mutex
	hubs map[string]*coderHub
	refs map[string]int
}

func (rs *coderRooms) join(room string) *coderHub {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	h := rs.hubs[room]
	if h == nil {
		h = &coderHub{subs: make(map[*coderSub]struct{})}
		rs.hubs[room] = h
	}
	rs.refs[room]++
	return h
}

func (rs *coderRooms) leave(room string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.refs[room]--; rs.refs[room] <= 0 {
		delete(rs.refs, room)
		delete(rs.hubs, room)
	}
}

type coderSub struct {
	msgs      chan []byte
	closeSlow func()
}

type coderHub struct {
	mu   sync.Mutex
	subs map[*coderSub]struct{}
}

func (h *coderHub) add(s *coderSub) {
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
}

func (h *coderHub) remove(s *coderSub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

func (h *coderHub) publish(msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.msgs <- msg:
		default:
			go s.closeSlow()
		}
	}
}
