// Package wshttp serves a wsevents Server with the standard library's
// net/http: import "github.com/wsevents/wsevents/adapters/nethttp" and use
// it as wshttp.
//
// The core Server is already an http.Handler, so this package is the
// smallest of the adapters: it names the mount point the way the other
// adapters do (wsgin.Handler, wsecho.Handler, ...), checks the Server at
// mount time, and records the net/http policy:
//
//   - The *http.Request of the upgrade is the connection's c.Request(), as
//     net/http passed it to the handler: URL, query, headers, cookies, and
//     the values middleware stored with r.WithContext. Those values are
//     also in c.Context(), which, unlike r.Context(), stays alive until the
//     connection ends rather than until the handler returns.
//
//   - The upgrade hijacks the connection through
//     http.NewResponseController(w).Hijack(), which unwraps ResponseWriter
//     wrappers that have an Unwrap() http.ResponseWriter method. A
//     middleware whose wrapper has neither Unwrap nor a Hijack method
//     breaks every upgrade (the client gets 500 and no 101); so does
//     http.TimeoutHandler. Give wrappers an Unwrap method, or mount the
//     WebSocket route outside such middleware.
//
//   - http.Server's ReadTimeout and WriteTimeout stop applying once the
//     connection is upgraded (net/http clears the deadlines when it hands
//     the connection over); wsevents.Config's timeouts and keepalive take
//     over. Bound slow handshakes with http.Server.ReadHeaderTimeout.
//
//   - WebSocket runs over HTTP/1.1 connections. net/http leaves RFC 8441
//     (WebSocket over HTTP/2) off by default and core does not accept it;
//     browsers then open an HTTP/1.1 connection for the WebSocket.
//
// See the package examples for a complete chat server.
package wshttp
