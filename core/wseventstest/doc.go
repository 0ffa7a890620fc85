// Package wseventstest is the conformance kit every wsevents adapter runs.
//
// An adapter (wshttp, wsgin, wsecho, wsiris, ...) only translates its
// framework's request into core's http.ResponseWriter and *http.Request, so
// the ways it can go wrong are few and the same for all: the upgrade cannot
// hijack the connection, the request reaches core without its query,
// headers or Origin, a middleware answers before core does. The kit checks
// them all in one table, run from the adapter's own tests:
//
//	func TestConformance(t *testing.T) {
//		wseventstest.Run(t, func(t testing.TB, srv *wsevents.Server) string {
//			r := gin.New()
//			r.GET("/ws", wsgin.Handler(srv))
//			ts := httptest.NewServer(r)
//			t.Cleanup(ts.Close)
//			return "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
//		})
//	}
//
// A Mount serves the Server it is given through the adapter on a real
// listener (httptest.NewServer is the usual way) and returns the ws:// URL
// of its route. Each case builds its own Server, mounts it, talks to it
// with a gorilla/websocket client speaking PROTOCOL.md, shuts it down and
// checks that no goroutine is left in core. The cases are connect, events
// both ways, native mode, Ask in both directions, broadcast, rooms,
// disconnect, shutdown, the request seen by handlers, the origin policy and
// the message size limit; run one with go test -run 'Conformance/rooms'.
//
// The kit does not check the process as a whole for goroutine leaks: that
// is the adapter's choice, usually goleak.VerifyTestMain in its TestMain.
// Dial and Client are exported for the adapter's own tests (a framework
// context reaching c.Request(), a middleware in front of the handler).
//
// # Brokers
//
// RunCluster is the same idea for brokers (brokers/nats, brokers/redis):
// given a way to make a node's Broker, to count subscriptions in the broker
// itself and, optionally, to stop and restart the broker and to run a node
// in a process of its own (ServeClusterNode), it checks exactly-once
// delivery of every kind of emit across three nodes, one subscription per
// node per room, Ask and room counts across nodes, and recovery from a
// broker restart during traffic.
package wseventstest
