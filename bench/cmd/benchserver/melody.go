package main

import (
	"net/http"

	"github.com/olahol/melody"
)

// melodyHandler: melody's README echo (s.Write) and chat (m.Broadcast),
// default Config (256-message session buffers) except MaxMessageSize:
// melody's default is 512 bytes, which refuses the 1 KiB echo with 1009;
// it gets wsevents's default, 1 MiB. Rooms are melody's multichat example:
// BroadcastFilter to the sessions whose request path is the sender's
// (/rooms/N), melody having no room registry.
func melodyHandler() http.Handler {
	echo := melody.New()
	echo.Config.MaxMessageSize = 1 << 20
	echo.HandleMessage(func(s *melody.Session, msg []byte) { s.Write(msg) })
	bcast := melody.New()
	bcast.Config.MaxMessageSize = 1 << 20
	bcast.HandleMessage(func(s *melody.Session, msg []byte) { bcast.Broadcast(msg) })
	rooms := melody.New()
	rooms.Config.MaxMessageSize = 1 << 20
	rooms.HandleMessage(func(s *melody.Session, msg []byte) {
		rooms.BroadcastFilter(msg, func(q *melody.Session) bool { return q.Request.URL.Path == s.Request.URL.Path })
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) { echo.HandleRequest(w, r) })
	mux.HandleFunc("GET /bcast", func(w http.ResponseWriter, r *http.Request) { bcast.HandleRequest(w, r) })
	mux.HandleFunc("GET /rooms/", func(w http.ResponseWriter, r *http.Request) { rooms.HandleRequest(w, r) })
	return mux
}
