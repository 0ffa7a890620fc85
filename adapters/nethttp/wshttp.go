package wshttp

import (
	"net/http"
	"strings"

	wsevents "github.com/wsevents/wsevents/core"
)

// Handler returns an http.Handler that upgrades requests to WebSocket
// connections served by srv. Mount it on a GET route:
//
//	mux.Handle("GET /chat", wshttp.Handler(srv))
//
// It panics if srv is nil, so a wiring mistake shows at start-up rather
// than on the first request.
func Handler(srv *wsevents.Server) http.Handler {
	return HandlerFunc(srv)
}

// HandlerFunc is Handler as an http.HandlerFunc, for routers and
// middleware chains that take functions.
func HandlerFunc(srv *wsevents.Server) http.HandlerFunc {
	if srv == nil {
		panic("wshttp: nil *wsevents.Server")
	}
	return srv.ServeHTTP
}

// Mount registers srv on mux at pattern, a ServeMux pattern ("/chat",
// "/rooms/{room}", "example.com/chat"). A pattern without a method is
// registered for GET, the only method a WebSocket handshake uses; one with
// a method ("GET /chat") is registered as it is.
func Mount(mux *http.ServeMux, pattern string, srv *wsevents.Server) {
	if !hasMethod(pattern) {
		pattern = http.MethodGet + " " + pattern
	}
	mux.Handle(pattern, Handler(srv))
}

// hasMethod reports whether a ServeMux pattern starts with a method: a
// word followed by blanks before the host or path.
func hasMethod(pattern string) bool {
	i := strings.IndexAny(pattern, " \t")
	return i > 0 && !strings.Contains(pattern[:i], "/")
}
