package wshttp_test

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

	"github.com/gorilla/websocket"
	wshttp "github.com/wsevents/wsevents/adapters/nethttp"
	wsevents "github.com/wsevents/wsevents/core"
)

// A chat server on net/http: everyone in the lobby sees what anyone says.
// The page uses the JS client bundled in core.
func Example() {
	srv := wsevents.New(wsevents.Config{})
	srv.OnConnection(func(c wsevents.Connection) {
		name := c.Request().URL.Query().Get("name") // the upgrade request, as net/http saw it
		if name == "" {
			name = "anonymous"
		}
		c.Join("lobby")
		c.To("lobby").Emit("chat", name+" joined")
		c.On("chat", func(msg string) {
			c.To("lobby").Emit("chat", name+": "+msg) // the other members
			c.Emit("chat", "you: "+msg)
		})
		c.OnDisconnect(func() { srv.To("lobby").Emit("chat", name+" left") })
	})

	mux := http.NewServeMux()
	wshttp.Mount(mux, "/chat", srv)
	mux.Handle("GET /wsevents.js", wsevents.ClientHandler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, chatPage)
	})

	hs := &http.Server{
		Addr:              "127.0.0.1:8080",
		Handler:           mux,
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
const user = encodeURIComponent(prompt("name?") || "");
const w = new Ws(scheme + location.host + "/chat?name=" + user);
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

// Handler mounts a Server on any net/http router. Any WebSocket client can
// talk to it; this one offers wsevents.v1 and writes PROTOCOL.md by hand.
func ExampleHandler() {
	srv := wsevents.New(wsevents.Config{})
	srv.OnConnection(func(c wsevents.Connection) {
		c.On("greet", func(name string) { c.Emit("greeting", "hello, "+name) })
	})
	mux := http.NewServeMux()
	mux.Handle("GET /ws", wshttp.Handler(srv))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer srv.Shutdown(context.Background())

	d := websocket.Dialer{Subprotocols: []string{wsevents.Subprotocol}}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/ws", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()
	ws.WriteMessage(websocket.TextMessage, []byte("et:greet\nann"))
	_, msg, err := ws.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", msg)
	// Output: "et:greeting\nhello, ann"
}
