package wsevents_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

// Two nodes of one cluster: a client of node 2 receives what node 1
// broadcasts. MemoryBroker joins Servers of one process; between
// processes and machines use brokers/nats or brokers/redis the same way.
func ExampleMemoryBroker() {
	hub := wsevents.NewMemoryBroker()
	node1 := wsevents.New(wsevents.Config{Broker: hub.Node()})
	node2 := wsevents.New(wsevents.Config{Broker: hub.Node()})
	ts := httptest.NewServer(node2)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer node1.Shutdown(ctx)
	defer node2.Shutdown(ctx)

	got := make(chan string, 1)
	client, err := wsevents.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http"), wsevents.DialOptions{
		Setup: func(cl *wsevents.Client) { cl.On("news", func(s string) { got <- s }) },
	})
	if err != nil {
		panic(err)
	}
	defer client.Close()

	// Nodes start with their first connection or emit, then find each other.
	for len(node1.ClusterNodes()) == 0 || len(node2.ClusterNodes()) == 0 {
		time.Sleep(time.Millisecond)
	}
	node1.To(wsevents.All).Emit("news", "from node 1")
	fmt.Println(<-got)
	// Output: from node 1
}
