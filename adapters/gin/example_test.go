package wsgin_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	wsgin "github.com/wsevents/wsevents/adapters/gin"
	wsevents "github.com/wsevents/wsevents/core"
)

// A chat server on Gin: rooms are a route parameter, the user's name comes
// from a middleware, and the page uses the JS client bundled in core.
func Example() {
	srv := wsevents.New(wsevents.Config{})
	srv.OnConnection(func(c wsevents.Connection) {
		room := wsgin.Param(c, "room")  // copied from the Gin context at the upgrade
		name, _ := wsgin.Get(c, "name") // set by the middleware below
		c.Join(room)
		c.To(room).Emit("chat", fmt.Sprint(name, " joined"))
		c.On("chat", func(msg string) {
			c.To(room).Emit("chat", fmt.Sprint(name, ": ", msg)) // the other members
			c.Emit("chat", "you: "+msg)
		})
		c.OnDisconnect(func() { srv.To(room).Emit("chat", fmt.Sprint(name, " left")) })
	})

	r := gin.New()
	r.Use(gin.Logger(), gin.Recovery())
	named := func(c *gin.Context) {
		name := c.Query("name")
		if name == "" {
			c.AbortWithStatus(http.StatusUnauthorized) // no upgrade
			return
		}
		c.Set("name", name)
		c.Next()
	}
	r.GET("/rooms/:room", named, wsgin.Handler(srv))
	r.GET("/wsevents.js", gin.WrapH(wsevents.ClientHandler()))
	r.GET("/", func(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(chatPage)) })

	hs := &http.Server{
		Addr:              "127.0.0.1:8080",
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second, // bounds slow handshakes too
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// http.Server.Shutdown does not track upgraded connections: close
		// them with 1001 first, then stop the HTTP server.
		srv.Shutdown(shutdown)
		hs.Shutdown(shutdown)
	}()
	if err := hs.ListenAndServe(); err != http.ErrServerClosed {
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

// Handler mounts a Server on a Gin route; handlers read the route
// parameters and the values middleware set through the wsgin accessors.
func ExampleHandler() {
	srv := wsevents.New(wsevents.Config{})
	srv.OnConnection(func(c wsevents.Connection) {
		c.On("greet", func(greeting string) {
			user, _ := wsgin.Get(c, "user")
			c.Emit("greeting", fmt.Sprintf("%s, %v, in %s", greeting, user, wsgin.Param(c, "room")))
		})
	})
	r := gin.New()
	auth := func(c *gin.Context) { c.Set("user", "ann"); c.Next() }
	r.GET("/rooms/:room", auth, wsgin.Handler(srv))
	ts := httptest.NewServer(r)
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
