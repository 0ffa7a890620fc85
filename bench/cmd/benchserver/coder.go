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
// gorilla's hub gets; a full buffer drops the subscriber as there).
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
	mux.HandleFunc("GET /bcast", func(w http.ResponseWriter, r *http.Request) {
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
	})
	return mux
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
