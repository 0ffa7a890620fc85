package wsnats_test

import (
	"log"
	"net/http"

	wsnats "github.com/wsevents/wsevents/brokers/nats"
	wsevents "github.com/wsevents/wsevents/core"
)

// Every node of the cluster runs the same program; the clients of all of
// them get each chat message once.
func Example() {
	b, err := wsnats.Connect("nats://127.0.0.1:4222", wsnats.Options{Prefix: "chat"})
	if err != nil {
		log.Fatal(err)
	}
	ws := wsevents.New(wsevents.Config{Broker: b}) // Shutdown closes b
	ws.OnConnection(func(c wsevents.Connection) {
		c.Join("lobby")
		c.On("chat", func(msg string) {
			c.To("lobby").Emit("chat", msg) // the lobby's members on every node
		})
	})
	http.Handle("/chat", ws)
}
