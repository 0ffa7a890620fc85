// Package wsredis connects wsevents nodes through Redis Pub/Sub, so that
// broadcasts, room emits, emits to a connection ID and Server.Ask reach
// the clients of every node. Give each Server its own Broker over the
// node's Redis client:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	ws := wsevents.New(wsevents.Config{Broker: wsredis.New(rdb, wsredis.Options{})})
//
// Each node holds one subscription connection, with one channel per room
// that has local members (plus one for the cluster and one for the node),
// never one per WebSocket connection; it publishes through the client's
// pool from a single goroutine. Channels are PREFIX:all, PREFIX:node.ID
// and PREFIX:room.NAME.
//
// When Redis is unreachable the node keeps serving its own clients, counts
// what could not cross (Server.Stats().Broker), reconnects with
// exponential backoff and jitter and resubscribes every channel. Redis
// Pub/Sub delivers at most once: the delivery guarantees are in the
// repository README's "Scale-out" section.
package wsredis
