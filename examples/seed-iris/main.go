// Command seed-iris is the chat sample of Iris's old websocket package
// (Iris v8-v11, github.com/kataras/iris/websocket) on wsevents, changed
// only where the port needs it:
//
//   - the imports: Iris v12, wsevents' core under the old package's name
//     "websocket", and the wsiris adapter;
//   - the mount line: app.Get("/echo", ws.Handler()) became
//     app.Get("/echo", wsiris.Handler(ws));
//   - Iris-context access: c.Context() was the Iris context, and
//     c.Context().RemoteAddr() became wsiris.RemoteAddr(c).
//
// Besides, the page is embedded (the sample read websockets.html from the
// working directory; embedded, go run works from anywhere) and main takes
// an -addr flag. websocket.Config, ws.OnConnection, c.On, c.To,
// websocket.Broadcast, websocket.ClientSource at /iris-ws.js and the
// page's new Ws(...) are the sample's own lines.
//
//	go run ./examples/seed-iris [-addr :8080]
//
// Open http://localhost:8080 in two tabs, write something, press Send.
package main

import (
	_ "embed"
	"flag"
	"fmt"

	"github.com/kataras/iris/v12"

	wsiris "github.com/wsevents/wsevents/adapters/iris"
	websocket "github.com/wsevents/wsevents/core"
)

//go:embed websockets.html
var page []byte

func main() {
	addr := flag.String("addr", ":8080", "address to listen on")
	flag.Parse()

	app := newApp()
	// x2
	// http://localhost:8080
	// http://localhost:8080
	// write something, press submit, see the result.
	app.Run(iris.Addr(*addr))
}

func newApp() *iris.Application {
	app := iris.New()

	app.Get("/", func(ctx iris.Context) {
		ctx.ContentType("text/html")
		ctx.Write(page)
	})

	setupWebsocket(app)
	return app
}

func setupWebsocket(app *iris.Application) {
	// create our echo websocket server
	ws := websocket.New(websocket.Config{
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
	})
	ws.OnConnection(handleConnection)

	// register the server on an endpoint.
	// see the inline javascript code in the websockets.html, this endpoint is used to connect to the server.
	app.Get("/echo", wsiris.Handler(ws))

	// serve the javascript built'n client-side library,
	// see websockets.html script tags, this path is used.
	app.Any("/iris-ws.js", func(ctx iris.Context) {
		ctx.Write(websocket.ClientSource)
	})
}

func handleConnection(c websocket.Connection) {
	// Read events from browser
	c.On("chat", func(msg string) {
		// Print the message to the console; wsiris.RemoteAddr(c) is what
		// the Iris context's RemoteAddr() answered at the upgrade.
		fmt.Printf("%s sent: %s\n", wsiris.RemoteAddr(c), msg)
		// Write message back to the client message owner with:
		// c.Emit("chat", msg)
		// Write message to all except this client with:
		c.To(websocket.Broadcast).Emit("chat", msg)
	})
}
