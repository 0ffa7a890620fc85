package wsevents

import (
	"sync"
)

// MemoryBroker connects the Servers of one process as nodes of a cluster,
// through memory: what tests and single-binary demos need, and the
// reference for the Broker contract. It is never down. Give each Server
// its own Node().
type MemoryBroker struct {
	mu   sync.RWMutex
	subs map[string]map[*memoryNode]struct{}
}

// NewMemoryBroker returns an empty in-process message bus.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{subs: make(map[string]map[*memoryNode]struct{})}
}

// Node returns a Broker for one Server.
func (m *MemoryBroker) Node() Broker { return &memoryNode{hub: m} }

// Subscribers returns the number of nodes subscribed to a topic, as a
// real broker's subscription count would.
func (m *MemoryBroker) Subscribers(topic string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.subs[topic])
}

type memoryNode struct {
	hub *MemoryBroker
	// mu serialises deliveries to this node (the contract: one handler call
	// at a time) and guards h.
	mu sync.Mutex
	h  BrokerHandler
}

func (n *memoryNode) Open(h BrokerHandler) error {
	n.mu.Lock()
	n.h = h
	n.mu.Unlock()
	return nil
}

func (n *memoryNode) Publish(topic string, data []byte) error {
	n.hub.mu.RLock()
	to := make([]*memoryNode, 0, len(n.hub.subs[topic]))
	for d := range n.hub.subs[topic] {
		to = append(to, d)
	}
	n.hub.mu.RUnlock()
	for _, d := range to {
		d.mu.Lock()
		if d.h != nil {
			d.h.BrokerMessage(topic, data)
		}
		d.mu.Unlock()
	}
	return nil
}

func (n *memoryNode) Subscribe(topic string) error {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	set := n.hub.subs[topic]
	if set == nil {
		set = make(map[*memoryNode]struct{})
		n.hub.subs[topic] = set
	}
	set[n] = struct{}{}
	return nil
}

func (n *memoryNode) Unsubscribe(topic string) error {
	n.hub.mu.Lock()
	defer n.hub.mu.Unlock()
	if set := n.hub.subs[topic]; set != nil {
		delete(set, n)
		if len(set) == 0 {
			delete(n.hub.subs, topic)
		}
	}
	return nil
}

func (n *memoryNode) Close() error {
	n.hub.mu.Lock()
	for topic, set := range n.hub.subs {
		delete(set, n)
		if len(set) == 0 {
			delete(n.hub.subs, topic)
		}
	}
	n.hub.mu.Unlock()
	n.mu.Lock()
	n.h = nil
	n.mu.Unlock()
	return nil
}
