package main

import (
	"net"
	"net/http"
	"sync"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// gobwasHandler: gobwas/ws used as its README's first example does:
// UpgradeHTTP, a goroutine per connection, wsutil.ReadClientData and
// wsutil.WriteServerMessage. Broadcast writes to every connection in turn
// from the sender's goroutine, one mutex per connection.
func gobwasHandler() http.Handler {
	hub := &gobwasHub{conns: make(map[*gobwasConn]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			for {
				msg, op, err := wsutil.ReadClientData(conn)
				if err != nil {
					return
				}
				if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
					return
				}
			}
		}()
	})
	mux.HandleFunc("GET /bcast", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		c := &gobwasConn{conn: conn}
		hub.mu.Lock()
		hub.conns[c] = struct{}{}
		hub.mu.Unlock()
		go func() {
			defer func() {
				hub.mu.Lock()
				delete(hub.conns, c)
				hub.mu.Unlock()
				conn.Close()
			}()
			for {
				msg, op, err := wsutil.ReadClientData(conn)
				if err != nil {
					return
				}
				hub.mu.RLock()
				for o := range hub.conns {
					o.mu.Lock()
					wsutil.WriteServerMessage(o.conn, op, msg)
					o.mu.Unlock()
				}
				hub.mu.RUnlock()
			}
		}()
	})
	return mux
}

type gobwasConn struct {
	mu   sync.Mutex
	conn net.Conn
}

type gobwasHub struct {
	mu    sync.RWMutex
	conns map[*gobwasConn]struct{}
}
