package wsgin

import (
	"maps"
	"slices"

	"github.com/gin-gonic/gin"
	wsevents "github.com/wsevents/wsevents/core"
)

// contextKey is the key of the snapshot in the upgrade request's context.
type contextKey struct{ name string }

var snapshotKey = &contextKey{"wsgin snapshot"}

// snapshot is what the Gin context knew at the upgrade. Never modified
// after Handler builds it.
type snapshot struct {
	params   gin.Params
	keys     map[any]any
	fullPath string
	clientIP string
}

func (o *options) snapshot(c *gin.Context) *snapshot {
	s := &snapshot{
		params:   slices.Clone(c.Params), // Gin reuses the backing array
		fullPath: c.FullPath(),
		clientIP: c.ClientIP(),
	}
	if !o.someKeys {
		s.keys = maps.Clone(c.Keys) // Gin replaces, never clears, its map
		return s
	}
	for _, k := range o.keys {
		if v, ok := c.Get(k); ok {
			if s.keys == nil {
				s.keys = make(map[any]any, len(o.keys))
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
	return snapshotOf(c).params.ByName(name)
}

// Params returns a copy of the route parameters.
func Params(c wsevents.Connection) gin.Params {
	return slices.Clone(snapshotOf(c).params)
}

// Get returns the value middleware stored under key with c.Set before the
// upgrade, and whether there was one.
func Get(c wsevents.Connection, key any) (any, bool) {
	v, ok := snapshotOf(c).keys[key]
	return v, ok
}

// Keys returns a copy of the keys middleware stored before the upgrade
// (nil if none). The values are shared, not copied.
func Keys(c wsevents.Connection) map[any]any {
	return maps.Clone(snapshotOf(c).keys)
}

// FullPath returns the matched route ("/rooms/:room").
func FullPath(c wsevents.Connection) string { return snapshotOf(c).fullPath }

// ClientIP returns the client's IP as gin.Context.ClientIP resolved it at
// the upgrade (trusted proxies and headers as the engine is configured).
func ClientIP(c wsevents.Connection) string { return snapshotOf(c).clientIP }
