package wsecho_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	wsecho "github.com/wsevents/wsevents/adapters/echo"
	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newEcho returns an Echo that prints nothing.
func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	return e
}

// TestConformance runs the adapter conformance table on a bare Echo.
func TestConformance(t *testing.T) {
	wseventstest.Run(t, func(t testing.TB, srv *wsevents.Server) string {
		e := newEcho()
		e.GET("/ws", wsecho.Handler(srv))
		return serve(t, e) + "/ws"
	})
}

// TestConformanceMiddleware runs the table again behind the usual
// middleware stack: request logging, recovery, gzip.
func TestConformanceMiddleware(t *testing.T) {
	wseventstest.Run(t, func(t testing.TB, srv *wsevents.Server) string {
		e := newEcho()
		e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
			LogStatus:     true,
			LogValuesFunc: func(echo.Context, middleware.RequestLoggerValues) error { return nil },
		}))
		e.Use(middleware.Recover(), middleware.Gzip())
		e.GET("/ws", wsecho.Handler(srv))
		return serve(t, e) + "/ws"
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

func echoEvents(c wsevents.Connection) {
	c.On("echo", func(s string) { c.Emit("echo", s) })
}

type stdKey struct{}

// auth is an authentication middleware: the user comes from a header and
// goes into the Echo context (c.Set) and the request's context.
func auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		user := c.Request().Header.Get("X-User")
		if user == "" {
			return echo.ErrUnauthorized
		}
		c.Set("user", user)
		c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), stdKey{}, user)))
		return next(c)
	}
}

// describe is what a handler can tell about its connection's Echo context.
func describe(c wsevents.Connection) string {
	return fmt.Sprintf("room=%s user=%v route=%s ip=%s query=%s std=%v",
		wsecho.Param(c, "room"), wsecho.Get(c, "user"), wsecho.Path(c), wsecho.RealIP(c),
		c.Request().URL.Query().Get("q"), c.Context().Value(stdKey{}))
}

// TestContextReachesHandlers: a route parameter and a middleware's value
// are visible in OnConnection and, later, in an event handler.
func TestContextReachesHandlers(t *testing.T) {
	srv := newServer(t, func(c wsevents.Connection) {
		c.Emit("hello", describe(c))
		c.On("whoami", func() { c.Emit("whoami", describe(c)) })
	})
	e := newEcho()
	e.GET("/rooms/:room", wsecho.Handler(srv, wsecho.WithKeys("user")), auth)
	cl := wseventstest.Dial(t, serve(t, e)+"/rooms/lobby?q=42", http.Header{"X-User": {"ann"}})
	want := "room=lobby user=ann route=/rooms/:room ip=127.0.0.1 query=42 std=ann"
	cl.Expect(wseventstest.Event("hello", wsevents.KindText, want))
	cl.Emit("whoami", "")
	cl.Expect(wseventstest.Event("whoami", wsevents.KindText, want))
}

func TestAccessorCopies(t *testing.T) {
	got := make(chan string, 1)
	srv := newServer(t, func(c wsevents.Connection) {
		names, values := wsecho.ParamNames(c), wsecho.ParamValues(c)
		values[0] = "changed" // a copy: the next reader still sees lobby
		got <- fmt.Sprint(names, " ", wsecho.Param(c, "room"), " ", wsecho.Get(c, "user"), " ", wsecho.Get(c, "other"))
	})
	e := newEcho()
	other := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { c.Set("other", 1); return next(c) }
	}
	e.GET("/rooms/:room", wsecho.Handler(srv, wsecho.WithKeys("user")), auth, other)
	wseventstest.Dial(t, serve(t, e)+"/rooms/lobby", http.Header{"X-User": {"ann"}})
	if s := recv(t, got); s != "[room] lobby ann <nil>" {
		t.Errorf("got %q, want %q (copies returned, only WithKeys copied)", s, "[room] lobby ann <nil>")
	}
}

// TestNotThroughHandler: the accessors answer zero values for a
// connection served without wsecho.
func TestNotThroughHandler(t *testing.T) {
	got := make(chan string, 1)
	srv := newServer(t, func(c wsevents.Connection) {
		got <- fmt.Sprint(wsecho.Param(c, "room"), wsecho.ParamNames(c), wsecho.Get(c, "user"), wsecho.Path(c))
	})
	wseventstest.Dial(t, serve(t, srv), nil)
	if s := recv(t, got); s != "[] <nil>" {
		t.Errorf("got %q", s)
	}
}

// TestAbortPreventsUpgrade: a middleware that answers 401 stops the
// chain; core never sees the request.
func TestAbortPreventsUpgrade(t *testing.T) {
	connected := make(chan struct{}, 1)
	srv := newServer(t, func(wsevents.Connection) { connected <- struct{}{} })
	e := newEcho()
	e.GET("/ws", wsecho.Handler(srv), auth)
	conn, resp, err := dial(serve(t, e)+"/ws", nil)
	if err == nil {
		conn.Close()
		t.Fatal("upgraded without the user header")
	}
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial: %v, %v; want HTTP 401", err, resp)
	}
	if st := srv.Stats(); st.Accepted != 0 || st.Refused != 0 {
		t.Errorf("core saw the request: %+v", st)
	}
	select {
	case <-connected:
		t.Error("OnConnection ran")
	default:
	}
}

func dial(url string, h http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{Subprotocols: []string{wsevents.Subprotocol}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial(url, h)
	if resp != nil {
		resp.Body.Close()
	}
	return conn, resp, err
}

// TestWritesAfterNextRefused: middleware code after next(c) runs once the
// handler returns, which is when the connection ends or parks idle (it
// lives on then); its writes are refused and never reach the connection.
func TestWritesAfterNextRefused(t *testing.T) {
	srv := newServer(t, echoEvents)
	werr := make(chan error, 1)
	after := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			_, werr2 := c.Response().Write([]byte("HTTP/1.1 200 OK\r\n\r\ngarbage"))
			werr <- werr2
			return err
		}
	}
	e := newEcho()
	e.GET("/ws", wsecho.Handler(srv), after)
	cl := wseventstest.Dial(t, serve(t, e)+"/ws", nil)
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

// TestGzip: with middleware.Gzip and a client that accepts gzip (browsers
// send Accept-Encoding on the handshake too) the upgrade works, the 101
// claims no content encoding, and a refused handshake still gets a
// readable error.
func TestGzip(t *testing.T) {
	srv := newServer(t, echoEvents)
	e := newEcho()
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{MinLength: 1}))
	e.GET("/ws", wsecho.Handler(srv))
	url := serve(t, e) + "/ws"
	gz := http.Header{"Accept-Encoding": {"gzip"}}

	cl := wseventstest.Dial(t, url, gz)
	for _, h := range bodyHeaders {
		if v, ok := cl.Response.Header[h]; ok {
			t.Errorf("101 response has %s: %q", h, v)
		}
	}
	cl.Emit("echo", strings.Repeat("z", 2000))
	cl.Expect(wseventstest.Event("echo", wsevents.KindText, strings.Repeat("z", 2000)))

	req, _ := http.NewRequest("GET", "http"+strings.TrimPrefix(url, "ws"), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req) // decompresses transparently
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "origin") {
		t.Errorf("cross-origin handshake behind gzip: %s %q, want 403 and the reason", resp.Status, body)
	}
}

// TestContextTimeout: middleware.ContextTimeout bounds the request's
// context, not the connection's.
func TestContextTimeout(t *testing.T) {
	srv := newServer(t, echoEvents)
	e := newEcho()
	e.Use(middleware.ContextTimeout(50 * time.Millisecond))
	e.GET("/ws", wsecho.Handler(srv))
	cl := wseventstest.Dial(t, serve(t, e)+"/ws", nil)
	time.Sleep(150 * time.Millisecond)
	cl.Emit("echo", "still here")
	cl.Expect(wseventstest.Event("echo", wsevents.KindText, "still here"))
}

// TestTimeoutMiddleware pins down what doc.go says of middleware.Timeout:
// it breaks upgrades unless its Skipper lets WebSocket requests through.
func TestTimeoutMiddleware(t *testing.T) {
	srv := newServer(t, echoEvents)
	e := newEcho()
	wsSkip := func(c echo.Context) bool { return c.IsWebSocket() }
	e.GET("/plain", wsecho.Handler(srv), middleware.TimeoutWithConfig(middleware.TimeoutConfig{Timeout: 5 * time.Second}))
	e.GET("/skipped", wsecho.Handler(srv), middleware.TimeoutWithConfig(middleware.TimeoutConfig{Timeout: 5 * time.Second, Skipper: wsSkip}))
	base := serve(t, e)

	conn, resp, err := dial(base+"/plain", nil)
	if err == nil {
		conn.Close()
		t.Fatal("upgraded behind middleware.Timeout")
	}
	if resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("behind middleware.Timeout: %v, %v; want HTTP 500", err, resp)
	}
	if n := srv.Len(); n != 0 {
		t.Errorf("srv.Len() = %d", n)
	}

	cl := wseventstest.Dial(t, base+"/skipped", nil)
	cl.Emit("echo", "skipped")
	cl.Expect(wseventstest.Event("echo", wsevents.KindText, "skipped"))
}

// TestSnapshotRaceFree: connections read their snapshot from other
// goroutines, during and after their life, while Echo serves a stream of
// other requests that reuse its pooled contexts. -race finds any read of
// a pooled echo.Context; the check finds a stale or mixed one.
func TestSnapshotRaceFree(t *testing.T) {
	stop := make(chan struct{})
	var readers sync.WaitGroup
	var bad atomic.Value
	srv := newServer(t, func(c wsevents.Connection) {
		room := wsecho.Param(c, "room")
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				user := wsecho.Get(c, "user")
				if got := wsecho.ParamValues(c)[0]; got != room || user != "u-"+room {
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
	e := newEcho()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { c.Set("user", "u-"+c.Param("room")); return next(c) }
	})
	e.GET("/ws/:room", wsecho.Handler(srv, wsecho.WithKeys("user")))
	e.GET("/other/:room", func(c echo.Context) error { return c.String(http.StatusOK, c.Param("room")) })
	base := serve(t, e)

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
	wsecho.Handler(nil)
}

// bodyHeaders are the response headers that describe a message body, which
// a 101 has none of: RFC 9110 section 8.6 and RFC 9112 section 6.1 forbid
// Content-Length and Transfer-Encoding in a 1xx response, and a
// Content-Encoding there claims an encoding for bytes that are WebSocket
// frames. Core drops them (and Content-Type) from what middleware set.
var bodyHeaders = []string{"Content-Encoding", "Content-Length", "Transfer-Encoding", "Content-Type"}
