package wsecho

import (
	"context"

	"github.com/labstack/echo/v4"
	wsevents "github.com/wsevents/wsevents/core"
)

// Handler returns an Echo handler that upgrades the request to a WebSocket
// connection served by srv, after copying the Echo context's parameters,
// the values named with WithKeys and the client IP for the accessors (see
// the package doc). It returns when the connection ends. Mount it on a GET
// route:
//
//	e.GET("/chat", wsecho.Handler(srv))
//
// It panics if srv is nil, so a wiring mistake shows at start-up.
func Handler(srv *wsevents.Server, opts ...Option) echo.HandlerFunc {
	if srv == nil {
		panic("wsecho: nil *wsevents.Server")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return func(c echo.Context) error {
		r := c.Request()
		r = r.WithContext(context.WithValue(r.Context(), snapshotKey, o.snapshot(c)))
		// Core answers refused handshakes itself; an error here would make
		// Echo write a second response.
		srv.ServeHTTP(c.Response(), r)
		return nil
	}
}

// Option configures Handler.
type Option func(*options)

type options struct {
	keys []string
}

// WithKeys names the values of the Echo context (c.Set by middleware) that
// handlers read with Get. Echo cannot list a context's values: without
// WithKeys none is copied. Several WithKeys add up.
func WithKeys(keys ...string) Option {
	keys = append([]string(nil), keys...)
	return func(o *options) { o.keys = append(o.keys, keys...) }
}
