package wsiris_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/kataras/iris/v12"
	wsiris "github.com/wsevents/wsevents/adapters/iris"
	wsevents "github.com/wsevents/wsevents/core"
)

// A chat server on Iris: rooms are a route parameter, the user's name comes
// from a middleware, and the page uses the JS client bundled in core.
func Example() {
	srv := wsevents.New(wsevents.Config{})
	srv.OnConnection(func(c wsevents.Connection) {
		room := wsiris.Param(c, "room") // copied from the Iris context at the upgrade
		name := wsiris.Get(c, "name")   // set by the middleware below
		c.Join(room)
		c.To(room).Emit("chat", fmt.Sprint(name, " joined"))
		c.On("chat", func(msg string) {
			c.To(room).Emit("chat", fmt.Sprint(name, ": ", msg)) // the other members
			c.Emit("chat", "you: "+msg)
		})
		c.OnDisconnect(func() { srv.To(room).Emit("chat", fmt.Sprint(name, " left")) })
	})

	app := iris.New()
	app.Use(iris.Compression)
	named := func(ctx iris.Context) {
		name := ctx.URLParam("name")
		if name == "" {
			ctx.StopWithStatus(iris.StatusUnauthorized) // no upgrade
			return
		}
		ctx.Values().Set("name", name)
		ctx.Next()
	}
	app.Get("/rooms/{room}", named, wsiris.Handler(srv))
	app.Get("/wsevents.js", iris.FromStd(wsevents.ClientHandler()))
	app.Get("/", func(ctx iris.Context) { ctx.HTML(chatPage) })

	// On Ctrl+C close the connections with 1001 first: Iris's own shutdown,
	// registered after this one, does not track upgraded connections.
	iris.RegisterOnInterrupt(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	if err := app.Listen("127.0.0.1:8080", iris.WithoutServerError(iris.ErrServerClosed)); err != nil {
		log.Fatal(err)
	}
}

const chatPage = `<!doctype html>
<title>chat</title>
<ul id="log"></ul>
<form id="say"><input id="msg" autocomplete="off"><button>send</button></form>
<script src="/wsevents.js"></script>
<script>
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const name = encodeURIComponent(prompt("name?") || "anonymous");
const w = new Ws(scheme + location.host + "/rooms/lobby?name=" + name);
w.On("chat", (text) => {
  const li = document.createElement("li");
  li.textContent = text;
  document.getElementById("log").append(li);
});
document.getElementById("say").onsubmit = (e) => {
  e.preventDefault();
  w.Emit("chat", document.getElementById("msg").value);
  document.getElementById("msg").value = "";
};
</script>`

// Handler mounts a Server on an Iris route; handlers read the route
// parameters and the values middleware set through the wsiris accessors.
func ExampleHandler() {
	srv := wsevents.New(wsevents.Config{})
	srv.OnConnection(func(c wsevents.Connection) {
		c.On("greet", func(greeting string) {
			c.Emit("greeting", fmt.Sprintf("%s, %v, in %s", greeting, wsiris.Get(c, "user"), wsiris.Param(c, "room")))
		})
	})
	app := iris.New()
	auth := func(ctx iris.Context) { ctx.Values().Set("user", "ann"); ctx.Next() }
	app.Get("/rooms/{room}", auth, wsiris.Handler(srv))
	if err := app.Build(); err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(app)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	d := websocket.Dialer{Subprotocols: []string{wsevents.Subprotocol}}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/rooms/lobby", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("et:greet\nhello"))
	_, msg, err := ws.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", msg)
	// Output: "et:greeting\nhello, ann, in lobby"
}
