// Package wsgin serves a wsevents Server on Gin routes: import
// "github.com/wsevents/wsevents/adapters/gin" and use it as wsgin.
//
//	r.GET("/chat", wsgin.Handler(ws))
//	r.GET("/rooms/:room", auth, wsgin.Handler(ws))
//
// # Context policy
//
// Gin pools its *gin.Context: once the route's handlers return, the same
// value serves another request. Handler runs the connection on Gin's
// handler goroutine, which returns when the connection ends or parks idle
// (on Linux, after a second without input or when the client has sent
// nothing yet; see wsevents' package doc), and
// a Connection outlives its connection (handlers keep it, goroutines read
// it after OnDisconnect) and a *gin.Context is not safe for concurrent use
// anyway. So no *gin.Context is ever handed to wsevents handlers. Instead,
// before the upgrade, Handler copies what handlers need into an immutable
// snapshot carried by the upgrade request's context:
//
//   - the route parameters (Param, Params) and the matched route (FullPath);
//   - the keys middleware stored with c.Set (Get, Keys): every key, or
//     those named with WithKeys. The map is copied, the values are not:
//     a pointer stored by middleware is shared, as with gin's c.Copy;
//   - the client IP as Gin resolves it with its trusted proxies (ClientIP).
//
// The accessors read the snapshot without locks, from any goroutine, for
// the Connection's whole life and after it. Query, headers and cookies are
// in c.Request(), the *http.Request Gin's handlers saw (c.Request, with the
// context values middleware added), whose context also carries the
// snapshot; c.Context() carries the same values and lives until the
// connection ends.
//
// # Middleware
//
//   - A middleware that aborts (c.AbortWithStatus(401)) stops the chain
//     before Handler: no upgrade, and the client gets that response.
//   - Middleware code after c.Next() runs once the connection has ended
//     or parked idle (use OnDisconnect for end-of-connection work);
//     what it writes then is refused by net/http (http.ErrHijacked), it
//     cannot reach the WebSocket stream. Handler aborts the rest of the
//     chain after the connection.
//   - gin.Logger and gin.Recovery work unchanged. The logger records the
//     connection once it ends, with status 200 (Gin never sees the 101
//     core writes on the hijacked connection) and the connection's
//     lifetime as latency. A panic in a wsevents handler never reaches
//     gin.Recovery: core closes that connection with 1011 and reports it.
//   - Middleware that replaces c.Writer must let core hijack the
//     connection: the writer needs a Hijack or an Unwrap method. Timeout
//     middleware that runs the handler on another goroutine behind a
//     buffering writer breaks every upgrade; keep WebSocket routes out of it.
//   - gin-contrib/gzip compresses a request whose Connection header is
//     written in lower case ("connection: upgrade", as some clients send)
//     and sets Content-Encoding before Handler runs; core leaves that header
//     off the 101, and the one line the middleware logs when it writes its
//     gzip footer to the hijacked connection is harmless. Keep WebSocket
//     routes out of gzip middleware to avoid it.
//
// See the package examples for a complete chat server.
package wsgin
