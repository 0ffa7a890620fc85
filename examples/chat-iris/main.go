// Command chat-iris is the seed's chat on Iris: open http://localhost:8080
// in two tabs and type. Every message goes to everyone else and is echoed
// to its sender; the page uses the bundled client's classic Ws API. It is
// examples/chat with an Iris application in place of net/http's router.
//
//	go run ./examples/chat-iris [-addr :8080]
package main

import (
	"context"
	_ "embed"
	"flag"
	"log"
	"net"
	"os"
	"os/signal"
	"time"

	"github.com/kataras/iris/v12"
	wsiris "github.com/wsevents/wsevents/adapters/iris"
	wsevents "github.com/wsevents/wsevents/core"
)

//go:embed index.html
var page []byte

// newApp returns the whole app: the page, the client script and the
// WebSocket route.
func newApp(ws *wsevents.Server) *iris.Application {
	ws.OnConnection(func(c wsevents.Connection) {
		log.Printf("%s connected from %s", c.ID(), wsiris.RemoteAddr(c))
		c.On("chat", func(message string) {
			// To all except this connection.
			c.To(wsevents.Broadcast).Emit("chat", message)
			// Back to the sender, as the seed's sample does.
			c.Emit("chat", "me: "+message)
		})
		c.OnDisconnect(func() { log.Printf("%s disconnected", c.ID()) })
	})
	app := iris.New()
	app.Use(iris.Compression)
	app.Get("/", func(ctx iris.Context) {
		ctx.ContentType("text/html; charset=utf-8")
		ctx.Write(page)
	})
	app.Get("/wsevents.js", iris.FromStd(wsevents.ClientHandler()))
	app.Get("/chat", wsiris.Handler(ws))
	return app
}

// run serves until ctx ends, then shuts the WebSocket server down (clients
// get 1001) and the HTTP server after it.
func run(ctx context.Context, ln net.Listener) error {
	ws := wsevents.New(wsevents.Config{})
	app := newApp(ws)
	errc := make(chan error, 1)
	go func() {
		errc <- app.Run(iris.Listener(ln, func(su *iris.Supervisor) {
			su.Server.ReadHeaderTimeout = 10 * time.Second
		}), iris.WithoutStartupLog, iris.WithoutInterruptHandler, iris.WithoutServerError(iris.ErrServerClosed))
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws.Shutdown(sctx)
	if err := app.Shutdown(sctx); err != nil {
		return err
	}
	return <-errc
}

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()
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
