package wsgin

import (
	"context"

	"github.com/gin-gonic/gin"
	wsevents "github.com/wsevents/wsevents/core"
)

// Handler returns a Gin handler that upgrades the request to a WebSocket
// connection served by srv, after copying the Gin context's parameters,
// keys and client IP for the accessors (see the package doc). It returns
// when the connection ends. Mount it last on a GET route:
//
//	r.GET("/chat", wsgin.Handler(srv))
//
// It panics if srv is nil, so a wiring mistake shows at start-up.
func Handler(srv *wsevents.Server, opts ...Option) gin.HandlerFunc {
	if srv == nil {
		panic("wsgin: nil *wsevents.Server")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return func(c *gin.Context) {
		r := c.Request
		r = r.WithContext(context.WithValue(r.Context(), snapshotKey, o.snapshot(c)))
		srv.ServeHTTP(c.Writer, r)
		c.Abort()
	}
}

// Option configures Handler.
type Option func(*options)

type options struct {
	keys     []any
	someKeys bool // keys lists the keys to copy; otherwise all are copied
}

// WithKeys copies only the given keys of the Gin context into the
// snapshot, instead of every key. Use it when middleware stores values
// that must not outlive the request or are large; WithKeys() copies none.
func WithKeys(keys ...any) Option {
	keys = append([]any(nil), keys...)
	return func(o *options) {
		o.keys = keys
		o.someKeys = true
	}
}
