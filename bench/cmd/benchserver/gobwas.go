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
// from the sender's goroutine, one mutex per connection; rooms the same,
// to the connections of the sender's room.
func gobwasHandler() http.Handler {
	hub := &gobwasHub{rooms: make(map[string]map[*gobwasConn]struct{})}
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
	mux.HandleFunc("GET /bcast", func(w http.ResponseWriter, r *http.Request) { hub.serve(w, r, "") })
	// Rooms: the same hub, its connections split by room.
	mux.HandleFunc("GET /rooms/", func(w http.ResponseWriter, r *http.Request) { hub.serve(w, r, roomOf(r)) })
	return mux
}

type gobwasConn struct {
	mu   sync.Mutex
	conn net.Conn
}

// gobwasHub: the connections of each room (/bcast: room "").
type gobwasHub struct {
	mu    sync.RWMutex
	rooms map[string]map[*gobwasConn]struct{}
}

// serve upgrades and reads messages in a goroutine of its own; each
// message is written to every connection of the room in turn.
func (hub *gobwasHub) serve(w http.ResponseWriter, r *http.Request, room string) {
	conn, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	c := &gobwasConn{conn: conn}
	hub.mu.Lock()
	members := hub.rooms[room]
	if members == nil {
		members = make(map[*gobwasConn]struct{})
		hub.rooms[room] = members
	}
	members[c] = struct{}{}
	hub.mu.Unlock()
	go func() {
		defer func() {
			hub.mu.Lock()
			delete(members, c)
			if len(members) == 0 {
				delete(hub.rooms, room)
			}
			hub.mu.Unlock()
			conn.Close()
		}()
		for {
			msg, op, err := wsutil.ReadClientData(conn)
			if err != nil {
				return
			}
			hub.mu.RLock()
			for o := range hub.rooms[room] {
				o.mu.Lock()
				wsutil.WriteServerMessage(o.conn, op, msg)
				o.mu.Unlock()
			}
			hub.mu.RUnlock()
		}
	}()
}
