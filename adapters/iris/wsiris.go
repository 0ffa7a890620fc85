package wsiris

import (
	"bufio"
	"context"
	"net"
	"net/http"

	irisctx "github.com/kataras/iris/v12/context"
	wsevents "github.com/wsevents/wsevents/core"
)

// Handler returns an Iris handler that upgrades the request to a WebSocket
// connection served by srv, after copying the Iris context's parameters,
// values and remote address for the accessors (see the package doc). It
// returns when the connection ends. Mount it last on a GET route:
//
//	app.Get("/chat", wsiris.Handler(srv))
//
// It panics if srv is nil, so a wiring mistake shows at start-up.
func Handler(srv *wsevents.Server, opts ...Option) irisctx.Handler {
	if srv == nil {
		panic("wsiris: nil *wsevents.Server")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return func(ctx *irisctx.Context) {
		r := ctx.Request()
		r = r.WithContext(context.WithValue(r.Context(), snapshotKey, o.snapshot(ctx)))
		noCompression(ctx)
		srv.ServeHTTP(&responseWriter{ctx.ResponseWriter()}, r)
	}
}

// noCompression turns off the compressing writer iris.Compression put in
// the chain, if any (under a recorder or not): neither the 101 nor a
// refusal's short text is compressed, and neither may claim to be; after
// a hijack, closing the compressor would write into the connection.
func noCompression(ctx *irisctx.Context) {
	w := ctx.ResponseWriter()
	if rec, ok := w.(*irisctx.ResponseRecorder); ok {
		w = rec.ResponseWriter
	}
	if cw, ok := w.(*irisctx.CompressResponseWriter); ok {
		ctx.CompressWriter(false)
		cw.Header().Del(irisctx.ContentEncodingHeaderKey)
		ctx.ResponseWriter().Header().Del(irisctx.ContentEncodingHeaderKey) // a recorder's copy
	}
}

// responseWriter lets core hijack the connection whatever writer the chain
// put in front of net/http's (Iris's ResponseRecorder has no Hijack), and
// marks the Iris response written, so that when Iris releases the context
// after the connection it sends nothing into the hijacked connection.
// Refusals are written through the Iris writer like any response.
type responseWriter struct {
	irisctx.ResponseWriter
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.Naive()).Hijack()
	if err == nil {
		w.SetWritten(irisctx.StatusCodeWritten)
	}
	return conn, brw, err
}

// Option configures Handler.
type Option func(*options)

type options struct {
	keys     []string
	someKeys bool // keys lists the values to copy; otherwise all are copied
}

// WithKeys copies only the given values of the Iris context
// (ctx.Values().Set) into the snapshot, instead of all of them. Use it
// when middleware stores values that must not outlive the request or are
// large; WithKeys() copies none.
func WithKeys(keys ...string) Option {
	keys = append([]string(nil), keys...)
	return func(o *options) {
		o.keys = keys
		o.someKeys = true
	}
}
