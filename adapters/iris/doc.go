// Package wsiris serves a wsevents Server on Iris (v12) routes: import
// "github.com/wsevents/wsevents/adapters/iris" and use it as wsiris.
//
//	app.Get("/chat", wsiris.Handler(ws))
//	app.Get("/rooms/{room}", auth, wsiris.Handler(ws))
//
// It is the successor of Iris's own websocket package for code written
// against it (see examples/seed-iris): OnConnection, On, Emit and
// To(wsevents.Broadcast) are core's; c.Context() is no longer the Iris
// context but a context.Context, and what handlers read from the Iris
// context goes through the accessors below.
//
// # Context policy
//
// Iris pools its *context.Context: when the route's handlers return, Iris
// releases it (EndRequest flushes the response, then the pool hands the
// value to another request, whose parameters and values overwrite the
// old ones in place). Iris's old websocket integration returned from the
// handler while the connection went on, so it had to turn that release
// off (ctx.DisablePoolRelease). Handler keeps the pool on: it runs the
// connection on Iris's handler goroutine, which returns (and Iris releases
// the context) when the connection ends or parks idle (on Linux, after a
// second without input or when the client has sent nothing yet; see
// wsevents' package doc), while the Connection
// lives on. Two things make that release safe:
//
//   - No *context.Context reaches wsevents handlers, which may keep the
//     Connection, and read it from other goroutines, after it ended.
//     Before the upgrade Handler copies what handlers need into an
//     immutable snapshot carried by the upgrade request's context: the
//     route parameters (Param, Params), the values middleware stored with
//     ctx.Values().Set (Get, Values: every key, or those named with
//     WithKeys; the values are shared, not copied), the remote address as
//     ctx.RemoteAddr resolves it (RemoteAddr) and the route's name
//     (RouteName). The accessors read it without locks, from any
//     goroutine, for the Connection's whole life and after it.
//   - The hijack goes to net/http's writer beneath whatever writer the
//     chain installed (a ResponseRecorder has no Hijack method) and marks
//     the Iris response as written, so that EndRequest, a recorder's or a
//     compressor's flush send nothing into the hijacked connection. What
//     middleware writes after ctx.Next() is refused (http.ErrHijacked).
//
// Query, headers and cookies are in c.Request(), the *http.Request Iris's
// handlers saw (ctx.Request(), with the context values middleware added
// through ctx.ResetRequest), whose context also carries the snapshot;
// c.Context() carries the same values and lives until the connection ends.
//
// # Middleware and configuration
//
//   - A middleware that stops the chain (ctx.StopWithStatus(401)) prevents
//     the upgrade: the client gets that response.
//   - iris.Compression works: Handler turns the compressing writer off for
//     the handshake, so the 101 claims no content encoding and a refusal's
//     text is readable.
//   - Middleware that records the response (ctx.Record, the access log
//     with response bodies) works, for the reason above.
//   - The access log records a connection once it ends, with status 200
//     and the connection's lifetime as latency.
//   - Configuration.Timeout (iris.WithTimeout) serves the whole router
//     behind http.TimeoutHandler, whose writer cannot hijack: every
//     upgrade fails with 500. Iris documents it; do not use it with
//     WebSocket routes.
//
// See the package examples for a complete chat server.
package wsiris
