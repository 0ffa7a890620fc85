// Package wsnats connects wsevents nodes through NATS, so that broadcasts,
// room emits, emits to a connection ID and Server.Ask reach the clients of
// every node. Give each Server its own Broker:
//
//	b, err := wsnats.Connect("nats://127.0.0.1:4222", wsnats.Options{})
//	if err != nil { ... }
//	ws := wsevents.New(wsevents.Config{Broker: b})
//
// Each node holds one NATS connection and one subscription per room that
// has local members (plus one for the cluster and one for the node), never
// one per WebSocket connection. Subjects are PREFIX.all, PREFIX.node.ID
// and PREFIX.room.NAME (Broker.Subject says how a room name that is not a
// plain token is written).
//
// When NATS is unreachable the node keeps serving its own clients, counts
// what could not cross (Server.Stats().Broker), reconnects with
// exponential backoff and jitter, and NATS restores its subscriptions. The
// delivery guarantees are in the repository README's "Scale-out" section.
package wsnats
