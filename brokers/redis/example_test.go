package wsredis_test

import (
	"net/http"

	"github.com/redis/go-redis/v9"
	wsredis "github.com/wsevents/wsevents/brokers/redis"
	wsevents "github.com/wsevents/wsevents/core"
)

// Every node of the cluster runs the same program; the clients of all of
// them get each chat message once.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	ws := wsevents.New(wsevents.Config{
		Broker: wsredis.New(rdb, wsredis.Options{Prefix: "chat"}), // Shutdown closes it; rdb stays yours
	})
	ws.OnConnection(func(c wsevents.Connection) {
		c.Join("lobby")
		c.On("chat", func(msg string) {
			c.To("lobby").Emit("chat", msg) // the lobby's members on every node
		})
	})
	http.Handle("/chat", ws)
}
