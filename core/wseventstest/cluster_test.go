package wseventstest_test

import (
	"sync"
	"testing"

	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
)

// The cluster table against core's in-process MemoryBroker: one hub per
// namespace. The broker modules run it against NATS and Redis.
func TestClusterMemory(t *testing.T) {
	var mu sync.Mutex
	hubs := map[string]*wsevents.MemoryBroker{}
	hub := func(ns string) *wsevents.MemoryBroker {
		mu.Lock()
		defer mu.Unlock()
		if hubs[ns] == nil {
			hubs[ns] = wsevents.NewMemoryBroker()
		}
		return hubs[ns]
	}
	wseventstest.RunCluster(t, wseventstest.Cluster{
		Broker:        func(_ testing.TB, ns string) wsevents.Broker { return hub(ns).Node() },
		Subscriptions: func(_ testing.TB, ns, topic string) int { return hub(ns).Subscribers(topic) },
	})
}
