// Command chat-gin is the seed's chat on Gin: open http://localhost:8080 in
// two tabs and type. Every message goes to everyone else and is echoed to
// its sender; the page uses the bundled client's classic Ws API. It is
// examples/chat with Gin's router in place of net/http's.
//
//	go run ./examples/chat-gin [-addr :8080]
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/gin-gonic/gin"
	wsgin "github.com/wsevents/wsevents/adapters/gin"
	wsevents "github.com/wsevents/wsevents/core"
)

//go:embed index.html
var page []byte

// newHandler returns the whole app: the page, the client script and the
// WebSocket route.
func newHandler(ws *wsevents.Server) http.Handler {
	ws.OnConnection(func(c wsevents.Connection) {
		log.Printf("%s connected from %s", c.ID(), wsgin.ClientIP(c))
		c.On("chat", func(message string) {
			// To all except this connection.
			c.To(wsevents.Broadcast).Emit("chat", message)
			// Back to the sender, as the seed's sample does.
			c.Emit("chat", "me: "+message)
		})
		c.OnDisconnect(func() { log.Printf("%s disconnected", c.ID()) })
	})
	r := gin.New()
	r.Use(gin.Recovery())
	r.GET("/", func(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", page) })
	r.GET("/wsevents.js", gin.WrapH(wsevents.ClientHandler()))
	r.GET("/chat", wsgin.Handler(ws))
	return r
}

// run serves until ctx ends, then shuts the WebSocket server down (clients
// get 1001) and the HTTP server after it.
func run(ctx context.Context, ln net.Listener) error {
	ws := wsevents.New(wsevents.Config{})
	srv := &http.Server{Handler: newHandler(ws), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws.Shutdown(sctx)
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()
	gin.SetMode(gin.ReleaseMode)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("chat on http://%s", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, ln); err != nil {
		log.Fatal(err)
	}
}
