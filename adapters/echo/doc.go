// Package wsecho serves a wsevents Server on Echo (v4) routes: import
// "github.com/wsevents/wsevents/adapters/echo" and use it as wsecho.
//
//	e.GET("/chat", wsecho.Handler(ws))
//	e.GET("/rooms/:room", wsecho.Handler(ws, wsecho.WithKeys("user")), auth)
//
// # Context policy
//
// Echo pools its echo.Context: once the handler returns, the same value
// serves another request, and its route parameter values are overwritten
// in place. Handler runs the connection on Echo's handler goroutine, which
// returns when the connection ends or parks idle (on Linux, after a second
// without input or when the client has sent nothing yet; see wsevents'
// package doc), and a Connection outlives
// its connection (handlers keep it, goroutines read it after OnDisconnect)
// and an echo.Context is not safe for concurrent use anyway. So no
// echo.Context is ever handed to wsevents handlers. Instead, before the
// upgrade, Handler copies what handlers need into an immutable snapshot
// carried by the upgrade request's context:
//
//   - the route parameters (Param, ParamNames, ParamValues) and the
//     matched route (Path);
//   - the values middleware stored with c.Set under the keys named with
//     WithKeys (Get). Echo cannot list a context's values, so a value
//     reaches wsevents handlers only if its key is named; the values are
//     shared, not copied;
//   - the client IP as c.RealIP resolves it with the Echo's IPExtractor
//     (RealIP).
//
// The accessors read the snapshot without locks, from any goroutine, for
// the Connection's whole life and after it. Query, headers and cookies are
// in c.Request(), the *http.Request Echo's handlers saw (c.Request(), with
// the context values middleware added through c.SetRequest), whose
// context also carries the snapshot; c.Context() carries the same values
// and lives until the connection ends.
//
// # Middleware
//
//   - A middleware that returns an error (echo.ErrUnauthorized) or writes
//     a response instead of calling next prevents the upgrade: the client
//     gets that response.
//   - Middleware code after next(c) runs once the connection has ended
//     or parked idle (use OnDisconnect for end-of-connection work);
//     what it writes then is refused by net/http (http.ErrHijacked), it
//     cannot reach the WebSocket stream.
//   - middleware.Gzip works: its writer can hijack, and it adds only a
//     Vary header before the response body, which an upgrade never writes.
//   - middleware.ContextTimeout works: the connection's context drops the
//     request's deadline (core's timeouts and keepalive apply instead).
//   - middleware.Timeout (deprecated by Echo) runs the handler behind
//     http.TimeoutHandler, whose writer cannot hijack: every upgrade fails
//     with 500. Skip WebSocket requests:
//     middleware.TimeoutWithConfig(middleware.TimeoutConfig{Skipper:
//     func(c echo.Context) bool { return c.IsWebSocket() }, ...}).
//   - Logging middleware records a connection once it ends, with status
//     200 (Echo never sees the 101 core writes on the hijacked connection)
//     and the connection's lifetime as latency. A panic in a wsevents
//     handler never reaches middleware.Recover: core closes that
//     connection with 1011 and reports it.
//
// See the package examples for a complete chat server.
package wsecho
