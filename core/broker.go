package wsevents

// Scale-out, as built here. (Users decide with the Broker type's and
// Config.Broker's docs and the README's "Scale-out" section; this is the
// design for readers of the source.)
//
// A Server alone is a cluster of one: its room registry and connection map
// are the whole truth, and Config.Broker is nil (the default). An emit then
// costs one nil check more than it would without this file.
//
// With a Broker, several Servers (nodes) share one message bus. Each node
// keeps serving its own connections from memory exactly as a single node
// does; what crosses the broker is only what local recipients cannot cover:
//
//   - To(All) / To(Broadcast): the local fan-out, then one publication on the
//     cluster topic "all", which every node subscribes. Broadcast carries
//     the sender's connection ID so it stays excluded on every node.
//   - To(room) when the room has local members: the local fan-out, then one
//     publication on the topic "room.NAME". A node subscribes that topic
//     once, when the room's first local member joins, and releases it when
//     the last one leaves: one subscription per node per room, never one
//     per connection.
//   - To(id) when id is a local connection: local delivery, nothing crosses.
//   - To(name) when name is neither a local room nor a local connection
//     (a server-side emit to a room of other nodes, or to a connection on
//     another node): one publication on "all"; every node delivers to its
//     members of that room and to its connection of that ID, if any. Finding
//     the node of a connection this way costs one message per node and no
//     directory that could go stale.
//   - Server.Ask(ctx, id, ...) for a connection on another node: a request
//     on "all" that only the owning node answers, on the asking node's own
//     topic "node.ID"; Server.ClusterRoomLen asks every node the same way.
//
// Encode once: the event-mode message bytes built for local recipients are
// what crosses, inside a small envelope (below); a receiving node frames
// them once for all of its recipients.
//
// Nothing waits on the broker in a connection's goroutine. Publications go
// through a bounded queue (Config.MaxBrokerQueue) to one publisher goroutine
// per node; a full queue, a broker that is down or refuses a message drops
// it and counts it (Stats().Broker.Lost). Subscriptions are changed by one
// goroutine per node that catches up with the room registry, so Join and
// Leave never wait either. Both goroutines start with the node's first
// connection, emit or cluster query (New starts none) and end in Shutdown.
//
// A node recognises its own publications by the origin node ID in the
// envelope and never delivers them twice. Nodes learn of each other with a
// hello on "all" (answered on the newcomer's node topic), a heartbeat every
// few seconds and a goodbye in Shutdown; the list serves ClusterRoomLen.
//
// The envelope that carries messages between nodes is in envelope.go.

import "time"

// Broker carries messages between the nodes of a cluster. A Broker value
// serves one node (one Server): brokers/nats and brokers/redis hold one
// connection per node, and MemoryBroker connects Servers of one process.
//
// A topic is an opaque string ("all", "node.ID", "room.NAME" where NAME is
// any room name); a broker maps it injectively onto its own namespace.
//
// Contract:
//   - Open is called once, before anything else, with the node's handler,
//     from the node's own goroutine: it may wait for a first round trip.
//     A broker that cannot reach its server returns an error (the node
//     then counts itself down) and reports BrokerUp once it can.
//   - Publish must not retain data after it returns and should fail fast
//     when the connection is down (rather than buffer: a message buffered
//     through an outage arrives late, to nodes that may not have
//     resubscribed yet, and nobody can count it lost). It is called from
//     one goroutine.
//   - Subscribe and Unsubscribe may block until the broker confirmed them;
//     they are called from one goroutine, never a connection's. They record
//     the intent even when they return an error: a subscribed topic stays
//     subscribed across reconnects until Unsubscribe.
//   - The handler's BrokerMessage is called for each message on a
//     subscribed topic, from one goroutine at a time, in the order the
//     broker delivered them; it returns quickly (it queues, never waits)
//     and does not retain data.
//     BrokerDown reports a lost connection, BrokerUp a restored one once
//     every subscription is back in place.
//   - Close releases the node's connection (if the broker opened it) and
//     returns when no handler call is running or will run.
type Broker interface {
	Open(h BrokerHandler) error
	Publish(topic string, data []byte) error
	Subscribe(topic string) error
	Unsubscribe(topic string) error
	Close() error
}

// BatchPublisher is an optional interface of a Broker whose cost is the
// round trip (Redis answers every PUBLISH): the node's publisher hands it
// every publication waiting in its queue, up to MaxPublishBatch, in order,
// instead of one Publish each. It returns how many of the batch, from the
// first, it published, and the error that stopped it; the rest count as
// lost. The rules of Publish apply (one goroutine, no data retained after
// it returns, fail fast when down).
type BatchPublisher interface {
	PublishBatch(batch []Publication) (published int, err error)
}

// Publication is one message of a PublishBatch.
type Publication struct {
	Topic string
	Data  []byte
}

// MaxPublishBatch is the most publications one PublishBatch carries.
const MaxPublishBatch = 128

// BrokerHandler is what a node gives its Broker in Open.
type BrokerHandler interface {
	// BrokerMessage delivers a message published on a subscribed topic.
	BrokerMessage(topic string, data []byte)
	// BrokerDown reports that the broker connection was lost.
	BrokerDown(err error)
	// BrokerUp reports that the connection is back and the subscriptions
	// are restored.
	BrokerUp()
	// BrokerError reports a problem that is not an outage (a message the
	// broker dropped for this node, a subscription it refused); the node
	// logs it.
	BrokerError(err error)
}

// BrokerStatus is passed to Config.OnBrokerStatus when the broker
// connection goes down (Up false, Err why) and when it is back (Up true).
type BrokerStatus struct {
	Up  bool
	Err error
	// Lost is the number of this node's messages that could not cross
	// since the previous status report: with Up true, those of the outage.
	Lost uint64
}

// BrokerStats are a node's broker counters, in Stats().Broker; all zero
// without a Broker.
type BrokerStats struct {
	Node          string // this node's ID
	Up            bool   // the broker connection is up (as far as the node knows)
	Nodes         int    // other nodes heard from recently
	Subscriptions int    // topics subscribed: "all", this node's, one per room with local members
	Published     uint64 // messages handed to the broker
	Received      uint64 // messages received from other nodes
	Lost          uint64 // messages that could not cross: queue full, broker down or refusing
	Outages       uint64 // times the broker connection was lost
	Undecodable   uint64 // received envelopes this node could not read (another version?)
}

// Topics of the cluster.
const (
	topicAll       = "all"
	topicNodePfx   = "node."
	topicRoomPfx   = "room."
	envelopeV1     = 1
	heartbeatEvery = 5 * time.Second
	// A node that sent nothing for this long is forgotten.
	nodeExpiry = 3 * heartbeatEvery
	// DefaultClusterTimeout bounds ClusterRoomLen when its context has no
	// deadline.
	DefaultClusterTimeout = 5 * time.Second
)
