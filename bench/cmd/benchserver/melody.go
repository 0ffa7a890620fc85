package main

import (
	"net/http"

	"github.com/olahol/melody"
)

// melodyHandler: melody's README echo (s.Write) and chat (m.Broadcast),
// default Config (256-message session buffers) except MaxMessageSize:
// melody's default is 512 bytes, which refuses the 1 KiB echo with 1009;
// it gets wsevents's default, 1 MiB.
func melodyHandler() http.Handler {
	echo := melody.New()
	echo.Config.MaxMessageSize = 1 << 20
	echo.HandleMessage(func(s *melody.Session, msg []byte) { s.Write(msg) })
	bcast := melody.New()
	bcast.Config.MaxMessageSize = 1 << 20
	bcast.HandleMessage(func(s *melody.Session, msg []byte) { bcast.Broadcast(msg) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) { echo.HandleRequest(w, r) })
	mux.HandleFunc("GET /bcast", func(w http.ResponseWriter, r *http.Request) { bcast.HandleRequest(w, r) })
	return mux
}
