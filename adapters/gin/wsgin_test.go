package wsgin_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/websocket"
	wsgin "github.com/wsevents/wsevents/adapters/gin"
	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode) // no route listing on stdout
	goleak.VerifyTestMain(m)
}

// TestConformance runs the adapter conformance table on a bare engine.
func TestConformance(t *testing.T) {
	wseventstest.Run(t, func(t testing.TB, srv *wsevents.Server) string {
		r := gin.New()
		r.GET("/ws", wsgin.Handler(srv))
		return serve(t, r) + "/ws"
	})
}

// TestConformanceLoggerRecovery runs the table again behind the two
// middlewares gin.Default installs.
func TestConformanceLoggerRecovery(t *testing.T) {
	wseventstest.Run(t, func(t testing.TB, srv *wsevents.Server) string {
		r := gin.New()
		r.Use(gin.LoggerWithWriter(io.Discard), gin.Recovery())
		r.GET("/ws", wsgin.Handler(srv))
		return serve(t, r) + "/ws"
	})
}

// serve starts h on a loopback listener and returns its ws:// base URL.
// What net/http logs (writes refused on hijacked connections) is dropped.
func serve(t testing.TB, h http.Handler) string {
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Start()
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}

// newServer returns a Server shut down when the test ends, after the
// clients the test dials later have been closed.
func newServer(t testing.TB, onConn func(wsevents.Connection)) *wsevents.Server {
	srv := wsevents.New(wsevents.Config{})
	srv.OnConnection(onConn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return srv
}

type stdKey struct{}

// auth is an authentication middleware: the user comes from a header and
// goes into the Gin context (c.Set) and the request's context.
func auth(c *gin.Context) {
	user := c.GetHeader("X-User")
	if user == "" {
		c.AbortWithStatus(http.StatusUnauthorized)
		return
	}
	c.Set("user", user)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), stdKey{}, user))
	c.Next()
}

// describe is what a handler can tell about its connection's Gin context.
func describe(c wsevents.Connection) string {
	user, _ := wsgin.Get(c, "user")
	return fmt.Sprintf("room=%s user=%v route=%s ip=%s query=%s std=%v",
		wsgin.Param(c, "room"), user, wsgin.FullPath(c), wsgin.ClientIP(c),
		c.Request().URL.Query().Get("q"), c.Context().Value(stdKey{}))
}

// TestContextReachesHandlers: a route parameter and a middleware's value
// are visible in OnConnection and, later, in an event handler.
func TestContextReachesHandlers(t *testing.T) {
	srv := newServer(t, func(c wsevents.Connection) {
		c.Emit("hello", describe(c))
		c.On("whoami", func() { c.Emit("whoami", describe(c)) })
	})
	r := gin.New()
	r.GET("/rooms/:room", auth, wsgin.Handler(srv))
	cl := wseventstest.Dial(t, serve(t, r)+"/rooms/lobby?q=42", http.Header{"X-User": {"ann"}})
	want := "room=lobby user=ann route=/rooms/:room ip=127.0.0.1 query=42 std=ann"
	cl.Expect(wseventstest.Event("hello", wsevents.KindText, want))
	cl.Emit("whoami", "")
	cl.Expect(wseventstest.Event("whoami", wsevents.KindText, want))
}

func TestAccessorCopies(t *testing.T) {
	got := make(chan string, 1)
	srv := newServer(t, func(c wsevents.Connection) {
		p := wsgin.Params(c)
		p[0].Value = "changed" // a copy: the next reader still sees lobby
		k := wsgin.Keys(c)
		k["user"] = "mallory"
		_, hasOther := wsgin.Get(c, "other")
		got <- fmt.Sprint(wsgin.Param(c, "room"), " ", wsgin.Keys(c)["user"], " ", hasOther)
	})
	r := gin.New()
	r.GET("/rooms/:room", auth, func(c *gin.Context) { c.Set("other", 1) }, wsgin.Handler(srv, wsgin.WithKeys("user")))
	wseventstest.Dial(t, serve(t, r)+"/rooms/lobby", http.Header{"X-User": {"ann"}})
	if s := recv(t, got); s != "lobby ann false" {
		t.Errorf("got %q, want %q (copies returned, WithKeys honoured)", s, "lobby ann false")
	}
}

// TestNotThroughHandler: the accessors answer zero values for a
// connection served without wsgin.
func TestNotThroughHandler(t *testing.T) {
	got := make(chan string, 1)
	srv := newServer(t, func(c wsevents.Connection) {
		_, ok := wsgin.Get(c, "user")
		got <- fmt.Sprint(wsgin.Param(c, "room"), wsgin.Params(c), wsgin.Keys(c), ok, wsgin.FullPath(c))
	})
	wseventstest.Dial(t, serve(t, srv), nil)
	if s := recv(t, got); s != "[] map[] false" {
		t.Errorf("got %q", s)
	}
}

// TestAbortPreventsUpgrade: a middleware that answers 401 stops the
// chain; core never sees the request.
func TestAbortPreventsUpgrade(t *testing.T) {
	connected := make(chan struct{}, 1)
	srv := newServer(t, func(wsevents.Connection) { connected <- struct{}{} })
	r := gin.New()
	r.GET("/ws", auth, wsgin.Handler(srv))
	url := serve(t, r) + "/ws"

	d := websocket.Dialer{Subprotocols: []string{wsevents.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(url, nil)
	if err == nil {
		conn.Close()
		t.Fatal("upgraded without the user header")
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial: %v, %v; want HTTP 401", err, resp)
	}
	resp.Body.Close()
	if st := srv.Stats(); st.Accepted != 0 || st.Refused != 0 {
		t.Errorf("core saw the request: %+v", st)
	}
	select {
	case <-connected:
		t.Error("OnConnection ran")
	default:
	}
}

// TestWritesAfterNextRefused: middleware code after c.Next() runs once the
// handler returns, which is when the connection ends or parks idle (it
// lives on then); its writes are refused and never reach the connection.
func TestWritesAfterNextRefused(t *testing.T) {
	srv := newServer(t, func(c wsevents.Connection) {
		c.On("echo", func(s string) { c.Emit("echo", s) })
	})
	werr := make(chan error, 1)
	after := func(c *gin.Context) {
		c.Next()
		_, err := c.Writer.WriteString("HTTP/1.1 200 OK\r\n\r\ngarbage")
		werr <- err
	}
	r := gin.New()
	r.GET("/ws", after, wsgin.Handler(srv))
	cl := wseventstest.Dial(t, serve(t, r)+"/ws", nil)
	cl.Emit("echo", "before")
	cl.Expect(wseventstest.Event("echo", wsevents.KindText, "before"))
	var err error
	resumed := false
	select {
	case err = <-werr:
		// Parked (Linux): the handler returned, the connection goes on,
		// untouched by the middleware's write.
		resumed = true
		cl.Emit("echo", "after")
		cl.Expect(wseventstest.Event("echo", wsevents.KindText, "after"))
	case <-time.After(200 * time.Millisecond):
		// Not parked: the handler returns with the connection.
	}
	if code := cl.Close(); code != websocket.CloseNormalClosure {
		t.Errorf("close code %d, want 1000", code)
	}
	if !resumed {
		err = recv(t, werr)
	}
	if !errors.Is(err, http.ErrHijacked) {
		t.Errorf("write after the handler: %v, want http.ErrHijacked", err)
	}
}

// TestSnapshotRaceFree: connections read their snapshot from other
// goroutines, during and after their life, while the engine serves a
// stream of other requests that reuse its pooled contexts. -race finds
// any read of a pooled *gin.Context; the check finds a stale or mixed one.
func TestSnapshotRaceFree(t *testing.T) {
	stop := make(chan struct{})
	var readers sync.WaitGroup
	var bad atomic.Value
	srv := newServer(t, func(c wsevents.Connection) {
		room := wsgin.Param(c, "room")
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				user, _ := wsgin.Get(c, "user")
				if got := wsgin.Params(c).ByName("room"); got != room || user != "u-"+room || wsgin.Keys(c)["user"] != user {
					bad.Store(fmt.Sprintf("room %s: params %s, user %v", room, got, user))
				}
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Microsecond):
				}
			}
		}()
		c.Emit("ready", room)
	})
	r := gin.New()
	r.Use(func(c *gin.Context) { c.Set("user", "u-"+c.Param("room")); c.Next() })
	r.GET("/ws/:room", wsgin.Handler(srv))
	r.GET("/other/:room", func(c *gin.Context) { c.String(http.StatusOK, c.Param("room")) })
	base := serve(t, r)

	hammerDone := hammer(t, "http"+strings.TrimPrefix(base, "ws")+"/other/", stop)
	for i := range 20 {
		room := fmt.Sprint("r", i)
		cl := wseventstest.Dial(t, base+"/ws/"+room, nil)
		cl.Expect(wseventstest.Event("ready", wsevents.KindText, room))
		cl.Close() // its reader goes on after the connection ends
	}
	time.Sleep(50 * time.Millisecond) // readers outlive their connections
	close(stop)
	readers.Wait()
	if n := hammerDone(); n == 0 {
		t.Error("no concurrent request was served")
	}
	if v := bad.Load(); v != nil {
		t.Error(v)
	}
}

// hammer sends GETs to prefix+N from two goroutines until stop closes;
// the returned function waits for them and returns the count.
func hammer(t testing.TB, prefix string, stop <-chan struct{}) func() int64 {
	var n atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := fmt.Sprint(prefix, "x", g, "-", i)
				resp, err := client.Get(path)
				if err != nil {
					t.Errorf("GET %s: %v", path, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		})
	}
	return func() int64 {
		wg.Wait()
		client.CloseIdleConnections()
		return n.Load()
	}
}

func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

func TestNilServerPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Handler(nil) did not panic")
		}
	}()
	wsgin.Handler(nil)
}

// bodyHeaders are the response headers that describe a message body, which
// a 101 has none of: RFC 9110 section 8.6 and RFC 9112 section 6.1 forbid
// Content-Length and Transfer-Encoding in a 1xx response, and a
// Content-Encoding there claims an encoding for bytes that are WebSocket
// frames. Core drops them (and Content-Type) from what middleware set.
var bodyHeaders = []string{"Content-Encoding", "Content-Length", "Transfer-Encoding", "Content-Type"}

// TestGzip: behind gin-contrib/gzip's middleware, with the default options,
// the 101 carries no body headers, whatever the client's handshake looks
// like, and the connection works. The middleware skips requests whose
// Connection header contains "Upgrade", in that case (browsers, gorilla,
// ws); Node's own WebSocket (undici) writes "connection: upgrade", lower
// case as RFC 9110 allows, with "accept-encoding: gzip, deflate", and then
// the middleware sets Content-Encoding: gzip (and Vary) on the response
// header before the handler runs: core must not send it with the 101.
func TestGzip(t *testing.T) {
	srv := newServer(t, func(c wsevents.Connection) {
		c.On("echo", func(s string) { c.Emit("echo", s) })
	})
	r := gin.New()
	r.Use(gzip.Gzip(gzip.DefaultCompression))
	r.GET("/ws", wsgin.Handler(srv))
	url := serve(t, r) + "/ws"

	t.Run("Connection: Upgrade", func(t *testing.T) {
		cl := wseventstest.Dial(t, url, http.Header{"Accept-Encoding": {"gzip"}})
		for _, h := range bodyHeaders {
			if v, ok := cl.Response.Header[h]; ok {
				t.Errorf("101 response has %s: %q", h, v)
			}
		}
		cl.Emit("echo", strings.Repeat("z", 2000))
		cl.Expect(wseventstest.Event("echo", wsevents.KindText, strings.Repeat("z", 2000)))
	})

	t.Run("connection: upgrade", func(t *testing.T) {
		// Node's WebSocket handshake, byte for byte but for the host and key.
		addr := strings.TrimPrefix(url, "ws://")
		addr = addr[:strings.IndexByte(addr, '/')]
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.WriteString(conn, "GET /ws HTTP/1.1\r\n"+
			"host: "+addr+"\r\n"+
			"connection: upgrade\r\n"+
			"upgrade: websocket\r\n"+
			"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"+
			"sec-websocket-version: 13\r\n"+
			"sec-websocket-extensions: permessage-deflate; client_max_window_bits\r\n"+
			"sec-websocket-protocol: "+wsevents.Subprotocol+"\r\n"+
			"accept: */*\r\n"+
			"accept-language: *\r\n"+
			"sec-fetch-mode: websocket\r\n"+
			"user-agent: node\r\n"+
			"pragma: no-cache\r\n"+
			"cache-control: no-cache\r\n"+
			"accept-encoding: gzip, deflate\r\n"+
			"\r\n")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %s, want 101", resp.Status)
		}
		for _, h := range bodyHeaders {
			if v, ok := resp.Header[h]; ok {
				t.Errorf("101 response has %s: %q (all headers: %v)", h, v, resp.Header)
			}
		}

		// The connection works: one masked text frame, one echo back.
		msg := []byte("et:echo\nthrough gzip")
		mask := []byte{1, 2, 3, 4}
		frame := append([]byte{0x81, 0x80 | byte(len(msg))}, mask...)
		for i, b := range msg {
			frame = append(frame, b^mask[i%4])
		}
		if _, err := conn.Write(frame); err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 2)
		if _, err := io.ReadFull(br, head); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, head[1]&0x7f)
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		if head[0] != 0x81 || string(body) != string(msg) {
			t.Errorf("echo: frame %#x %q, want 0x81 %q", head[0], body, msg)
		}
	})
}

// passingWriter replaces c.Writer and passes everything through, Hijack
// included (it embeds the writer it wraps), as logging wrappers do.
type passingWriter struct{ gin.ResponseWriter }

// bufferingWriter stands for what timeout middleware puts in c.Writer:
// the response is buffered for another goroutine, so the connection cannot
// be hijacked.
type bufferingWriter struct{ gin.ResponseWriter }

func (bufferingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("the response is buffered; it cannot be hijacked")
}

// TestWriterWrappers: middleware that replaces c.Writer with a wrapper
// that hijacks through keeps WebSocket routes working; one whose writer
// cannot be hijacked (timeout middleware's buffering writer) makes every
// upgrade fail with a 500 that says why, and no connection starts.
func TestWriterWrappers(t *testing.T) {
	connected := make(chan string, 2)
	srv := newServer(t, func(c wsevents.Connection) { connected <- c.ID() })
	r := gin.New()
	r.GET("/counted", func(c *gin.Context) {
		c.Writer = passingWriter{c.Writer}
		c.Next()
	}, wsgin.Handler(srv))
	r.GET("/buffered", func(c *gin.Context) {
		c.Writer = bufferingWriter{c.Writer}
		c.Next()
	}, wsgin.Handler(srv))
	url := serve(t, r)
	d := websocket.Dialer{Subprotocols: []string{wsevents.Subprotocol}, HandshakeTimeout: 5 * time.Second}

	conn, _, err := d.Dial(url+"/counted", nil)
	if err != nil {
		t.Fatalf("through a hijacking wrapper: %v", err)
	}
	defer conn.Close()
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		t.Fatal("OnConnection did not run behind a hijacking wrapper")
	}

	conn2, resp, err := d.Dial(url+"/buffered", nil)
	if err == nil {
		conn2.Close()
		t.Fatal("upgraded through a writer that cannot hijack")
	}
	if resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("dial: %v, %v; want HTTP 500", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "cannot be hijacked") {
		t.Errorf("500 body %q does not say why", body)
	}
	if st := srv.Stats(); st.Refused != 1 || st.Accepted != 1 {
		t.Errorf("Stats: %+v, want 1 accepted and 1 refused", st)
	}
	select {
	case id := <-connected:
		t.Errorf("OnConnection ran (%s) for the failed upgrade", id)
	default:
	}
}
