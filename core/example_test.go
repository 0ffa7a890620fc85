package wsevents_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

// The seed's chat: every message goes to everyone else and back to its
// sender; the browser page loads /wsevents.js and uses new Ws(url).
func Example_chat() {
	ws := wsevents.New(wsevents.Config{})
	ws.OnConnection(func(c wsevents.Connection) {
		c.On("chat", func(message string) {
			c.To(wsevents.Broadcast).Emit("chat", message)
			c.Emit("chat", "me: "+message)
		})
		c.OnDisconnect(func() { log.Printf("%s left", c.ID()) })
	})
	mux := http.NewServeMux()
	mux.Handle("/chat", ws)
	mux.Handle("/wsevents.js", wsevents.ClientHandler())
	_ = mux // http.ListenAndServe(":8080", mux)
}

// Rooms and server-side emits: a ticker pushes to a room from outside any
// handler.
func Example_rooms() {
	ws := wsevents.New(wsevents.Config{})
	ws.OnConnection(func(c wsevents.Connection) {
		c.On("subscribe", func(symbol string) {
			c.Join(symbol)
			c.To(symbol).Emit("joined", c.ID()) // the room's other members
		})
	})
	go func() {
		for range time.Tick(time.Second) {
			ws.To("ACME").Emit("price", 101.25) // every member of the room
		}
	}()
}

// Request–response: the answering handler returns its reply; Ask waits
// for the peer's.
func Example_ask() {
	ws := wsevents.New(wsevents.Config{})
	ws.OnConnection(func(c wsevents.Connection) {
		c.On("sum", func(m wsevents.Message) (any, error) {
			var xs []int
			if err := m.Decode(&xs); err != nil {
				return nil, err
			}
			return xs[0] + xs[1], nil
		})
		go func() {
			ctx, cancel := context.WithTimeout(c.Context(), 5*time.Second)
			defer cancel()
			name, err := c.Ask(ctx, "whoami", nil)
			if err == nil {
				log.Printf("%s is %s", c.ID(), name.String())
			}
		}()
	})
}

// JSON decodes each payload into a struct.
func ExampleJSON() {
	type move struct{ X, Y int }
	ws := wsevents.New(wsevents.Config{})
	ws.OnConnection(func(c wsevents.Connection) {
		c.On("move", wsevents.JSON(func(m move) {
			c.To(wsevents.Broadcast).Emit("moved", m)
		}))
	})
}

// A port given to WebSocket alone: the Server reads each handshake itself,
// with no net/http server in front (the leanest way to hold many idle
// connections), and Shutdown closes the listener.
func ExampleServer_ListenAndServe() {
	ws := wsevents.New(wsevents.Config{})
	ws.OnConnection(func(c wsevents.Connection) {
		c.On("tick", func() { c.Emit("tock", time.Now().Unix()) })
	})
	go func() {
		time.Sleep(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws.Shutdown(ctx)
	}()
	if err := ws.ListenAndServe("127.0.0.1:8081"); !errors.Is(err, wsevents.ErrServerClosed) {
		log.Fatal(err)
	}
}
