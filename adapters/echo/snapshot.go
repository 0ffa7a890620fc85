package wsecho

import (
	"slices"

	"github.com/labstack/echo/v4"
	wsevents "github.com/wsevents/wsevents/core"
)

// contextKey is the key of the snapshot in the upgrade request's context.
type contextKey struct{ name string }

var snapshotKey = &contextKey{"wsecho snapshot"}

// snapshot is what the Echo context knew at the upgrade. Never modified
// after Handler builds it.
type snapshot struct {
	names, values []string
	keys          map[string]any
	path, realIP  string
}

func (o *options) snapshot(c echo.Context) *snapshot {
	s := &snapshot{
		// Echo overwrites its parameter values in place for the next request.
		names:  slices.Clone(c.ParamNames()),
		values: slices.Clone(c.ParamValues()),
		path:   c.Path(),
		realIP: c.RealIP(),
	}
	for _, k := range o.keys {
		if v := c.Get(k); v != nil {
			if s.keys == nil {
				s.keys = make(map[string]any, len(o.keys))
			}
			s.keys[k] = v
		}
	}
	return s
}

// none is the snapshot of a connection that did not come through Handler.
var none snapshot

func snapshotOf(c wsevents.Connection) *snapshot {
	if s, ok := c.Request().Context().Value(snapshotKey).(*snapshot); ok {
		return s
	}
	return &none
}

// Param returns the value of the route parameter name (":room" in
// "/rooms/:room"), or "" if the route has none by that name.
func Param(c wsevents.Connection, name string) string {
	s := snapshotOf(c)
	for i, n := range s.names {
		if n == name && i < len(s.values) {
			return s.values[i]
		}
	}
	return ""
}

// ParamNames returns a copy of the route parameter names.
func ParamNames(c wsevents.Connection) []string { return slices.Clone(snapshotOf(c).names) }

// ParamValues returns a copy of the route parameter values, in the order
// of ParamNames.
func ParamValues(c wsevents.Connection) []string { return slices.Clone(snapshotOf(c).values) }

// Get returns the value middleware stored under key with c.Set before the
// upgrade, if key was named with WithKeys; otherwise nil.
func Get(c wsevents.Connection, key string) any { return snapshotOf(c).keys[key] }

// Path returns the matched route ("/rooms/:room").
func Path(c wsevents.Connection) string { return snapshotOf(c).path }

// RealIP returns the client's IP as echo.Context.RealIP resolved it at the
// upgrade.
func RealIP(c wsevents.Connection) string { return snapshotOf(c).realIP }
