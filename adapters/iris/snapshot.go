package wsiris

import (
	"slices"

	irisctx "github.com/kataras/iris/v12/context"
	"github.com/kataras/iris/v12/core/memstore"
	wsevents "github.com/wsevents/wsevents/core"
)

// contextKey is the key of the snapshot in the upgrade request's context.
type contextKey struct{ name string }

var snapshotKey = &contextKey{"wsiris snapshot"}

// snapshot is what the Iris context knew at the upgrade. Never modified
// after Handler builds it.
type snapshot struct {
	params     irisctx.RequestParams
	values     memstore.Store
	remoteAddr string
	routeName  string
}

func (o *options) snapshot(ctx *irisctx.Context) *snapshot {
	s := &snapshot{
		// Iris overwrites both stores' entries in place for the next request.
		params:     irisctx.RequestParams{Store: slices.Clone(ctx.Params().Store)},
		remoteAddr: ctx.RemoteAddr(),
		routeName:  ctx.RouteName(),
	}
	values := *ctx.Values()
	if !o.someKeys {
		s.values = slices.Clone(values)
		return s
	}
	for _, e := range values {
		if slices.Contains(o.keys, e.Key) {
			s.values = append(s.values, e)
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

// Param returns the value of the route parameter name ("{room}" in
// "/rooms/{room}") as a string, or "" if the route has none by that name.
func Param(c wsevents.Connection, name string) string {
	return snapshotOf(c).params.Get(name)
}

// Params returns a copy of the route parameters, with the typed getters
// of ctx.Params() (GetUint64, GetBool, ...).
func Params(c wsevents.Connection) *irisctx.RequestParams {
	return &irisctx.RequestParams{Store: slices.Clone(snapshotOf(c).params.Store)}
}

// Get returns the value middleware stored under key with
// ctx.Values().Set before the upgrade, or nil.
func Get(c wsevents.Connection, key string) any {
	return snapshotOf(c).values.Get(key)
}

// Values returns a copy of the values middleware stored before the
// upgrade, with the typed getters of ctx.Values(). The values themselves
// are shared, not copied.
func Values(c wsevents.Connection) *memstore.Store {
	v := slices.Clone(snapshotOf(c).values)
	return &v
}

// RemoteAddr returns the client's address as ctx.RemoteAddr resolved it at
// the upgrade (the application's RemoteAddrHeaders configuration applies).
func RemoteAddr(c wsevents.Connection) string { return snapshotOf(c).remoteAddr }

// RouteName returns the name of the matched route, as ctx.RouteName.
func RouteName(c wsevents.Connection) string { return snapshotOf(c).routeName }
