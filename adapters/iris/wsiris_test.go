package wsiris_test

import (
	"bytes"
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
	"github.com/kataras/iris/v12"
	"github.com/kataras/iris/v12/middleware/accesslog"
	wsiris "github.com/wsevents/wsevents/adapters/iris"
	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// accesslog.New starts Iris's process-wide interrupt listener, for good.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/kataras/iris/v12/core/host.(*interruptListener).notifyAndFire"))
}

// newApp returns an Iris application that prints nothing.
func newApp() *iris.Application {
	app := iris.New()
	app.Logger().SetOutput(io.Discard)
	return app
}

// TestConformance runs the adapter conformance table on a bare application.
func TestConformance(t *testing.T) {
	wseventstest.Run(t, func(t testing.TB, srv *wsevents.Server) string {
		app := newApp()
		app.Get("/ws", wsiris.Handler(srv))
		return serve(t, app) + "/ws"
	})
}

// TestConformanceMiddleware runs the table again behind the access log
// (which records response bodies), compression and recovery: the writers
// Iris puts in front of net/http's.
func TestConformanceMiddleware(t *testing.T) {
	wseventstest.Run(t, func(t testing.TB, srv *wsevents.Server) string {
		app := newApp()
		ac := accesslog.New(io.Discard)
		ac.ResponseBody = true
		t.Cleanup(func() { ac.Close() })
		app.UseRouter(ac.Handler)
		app.Use(iris.Compression)
		app.UseRouter(func(ctx iris.Context) { ctx.Record(); ctx.Next() })
		app.Get("/ws", wsiris.Handler(srv))
		return serve(t, app) + "/ws"
	})
}

// serve builds app, starts it on a loopback listener and returns its
// ws:// base URL. net/http's own log goes to t, if given a logger.
func serve(t testing.TB, app *iris.Application) string {
	return serveLog(t, app, log.New(io.Discard, "", 0))
}

func serveLog(t testing.TB, app *iris.Application, errLog *log.Logger) string {
	if err := app.Build(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(app)
	ts.Config.ErrorLog = errLog
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
// goes into the Iris context's values and the request's context.
func auth(ctx iris.Context) {
	user := ctx.GetHeader("X-User")
	if user == "" {
		ctx.StopWithStatus(http.StatusUnauthorized)
		return
	}
	ctx.Values().Set("user", user)
	r := ctx.Request()
	ctx.ResetRequest(r.WithContext(context.WithValue(r.Context(), stdKey{}, user)))
	ctx.Next()
}

// describe is what a handler can tell about its connection's Iris context.
func describe(c wsevents.Connection) string {
	id, _ := wsiris.Params(c).GetUint64("id")
	return fmt.Sprintf("room=%s id=%d user=%v route=%s ip=%s query=%s std=%v",
		wsiris.Param(c, "room"), id, wsiris.Get(c, "user"), wsiris.RouteName(c), wsiris.RemoteAddr(c),
		c.Request().URL.Query().Get("q"), c.Context().Value(stdKey{}))
}

// TestContextReachesHandlers: route parameters and a middleware's value
// are visible in OnConnection and, later, in an event handler.
func TestContextReachesHandlers(t *testing.T) {
	srv := newServer(t, func(c wsevents.Connection) {
		c.Emit("hello", describe(c))
		c.On("whoami", func() { c.Emit("whoami", describe(c)) })
	})
	app := newApp()
	app.Get("/rooms/{room}/{id:uint64}", auth, wsiris.Handler(srv))
	cl := wseventstest.Dial(t, serve(t, app)+"/rooms/lobby/7?q=42", http.Header{"X-User": {"ann"}})
	want := "room=lobby id=7 user=ann route=GET/rooms/{room}/{id:uint64} ip=127.0.0.1 query=42 std=ann"
	cl.Expect(wseventstest.Event("hello", wsevents.KindText, want))
	cl.Emit("whoami", "")
	cl.Expect(wseventstest.Event("whoami", wsevents.KindText, want))
}

func TestAccessorCopies(t *testing.T) {
	got := make(chan string, 1)
	srv := newServer(t, func(c wsevents.Connection) {
		wsiris.Params(c).Set("room", "changed") // copies: the next reader still sees lobby
		wsiris.Values(c).Set("user", "mallory")
		got <- fmt.Sprint(wsiris.Param(c, "room"), " ", wsiris.Get(c, "user"), " ", wsiris.Values(c).Len(), " ", wsiris.Get(c, "other"))
	})
	app := newApp()
	other := func(ctx iris.Context) { ctx.Values().Set("other", 1); ctx.Next() }
	app.Get("/rooms/{room}", auth, other, wsiris.Handler(srv, wsiris.WithKeys("user")))
	wseventstest.Dial(t, serve(t, app)+"/rooms/lobby", http.Header{"X-User": {"ann"}})
	if s := recv(t, got); s != "lobby ann 1 <nil>" {
		t.Errorf("got %q, want %q (copies returned, WithKeys honoured)", s, "lobby ann 1 <nil>")
	}
}

// TestNotThroughHandler: the accessors answer zero values for a
// connection served without wsiris.
func TestNotThroughHandler(t *testing.T) {
	got := make(chan string, 1)
	srv := newServer(t, func(c wsevents.Connection) {
		got <- fmt.Sprint(wsiris.Param(c, "room"), wsiris.Params(c).Len(), wsiris.Get(c, "user"), wsiris.Values(c).Len(), wsiris.RouteName(c))
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	wseventstest.Dial(t, "ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if s := recv(t, got); s != "0 <nil> 0" {
		t.Errorf("got %q", s)
	}
}

// TestAbortPreventsUpgrade: a middleware that answers 401 stops the
// chain; core never sees the request.
func TestAbortPreventsUpgrade(t *testing.T) {
	connected := make(chan struct{}, 1)
	srv := newServer(t, func(wsevents.Connection) { connected <- struct{}{} })
	app := newApp()
	app.Get("/ws", auth, wsiris.Handler(srv))
	conn, resp, err := dial(serve(t, app)+"/ws", nil)
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

// syncBuffer collects what net/http logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestReleaseAfterConnection: when the connection ends Iris releases the
// context (EndRequest flushes the response, recorders copy theirs) and
// reuses it; none of that writes into the hijacked connection, which
// net/http would log, and the next requests on the same application are
// served normally.
func TestReleaseAfterConnection(t *testing.T) {
	var errLog syncBuffer
	done := make(chan struct{}, 8)
	srv := newServer(t, func(c wsevents.Connection) {
		echoEvents(c)
		c.OnDisconnect(func() { done <- struct{}{} })
	})
	app := newApp()
	app.Use(iris.Compression)
	app.UseRouter(func(ctx iris.Context) { ctx.Record(); ctx.Next() })
	app.Get("/ws", wsiris.Handler(srv))
	app.Get("/plain", func(ctx iris.Context) { ctx.WriteString("plain") })
	base := serveLog(t, app, log.New(&errLog, "", 0))

	for i := range 3 {
		cl := wseventstest.Dial(t, base+"/ws", http.Header{"Accept-Encoding": {"gzip"}})
		msg := fmt.Sprint("round ", i)
		cl.Emit("echo", msg)
		cl.Expect(wseventstest.Event("echo", wsevents.KindText, msg))
		if code := cl.Close(); code != websocket.CloseNormalClosure {
			t.Errorf("close code %d, want 1000", code)
		}
		recv(t, done)
		resp, err := http.Get("http" + strings.TrimPrefix(base, "ws") + "/plain")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "plain" {
			t.Errorf("request after a connection: %s %q", resp.Status, body)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	srv.Shutdown(context.Background())
	time.Sleep(20 * time.Millisecond) // Iris releases after the handler returns
	if s := errLog.String(); s != "" {
		t.Errorf("net/http logged writes on hijacked connections:\n%s", s)
	}
}

// TestWritesAfterNextRefused: middleware code after ctx.Next() runs once the
// handler returns, which is when the connection ends or parks idle (it
// lives on then); its writes are refused and never reach the connection.
func TestWritesAfterNextRefused(t *testing.T) {
	srv := newServer(t, echoEvents)
	werr := make(chan error, 1)
	after := func(ctx iris.Context) {
		ctx.Next()
		_, err := ctx.WriteString("HTTP/1.1 200 OK\r\n\r\ngarbage")
		werr <- err
	}
	app := newApp()
	app.Get("/ws", after, wsiris.Handler(srv))
	cl := wseventstest.Dial(t, serve(t, app)+"/ws", nil)
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

// TestCompression: behind iris.Compression, with a client that accepts
// gzip (browsers send Accept-Encoding on the handshake too), the 101
// claims no content encoding and a refused handshake gets a readable
// error.
func TestCompression(t *testing.T) {
	srv := newServer(t, echoEvents)
	app := newApp()
	app.Use(iris.Compression)
	app.Get("/ws", wsiris.Handler(srv))
	url := serve(t, app) + "/ws"

	cl := wseventstest.Dial(t, url, http.Header{"Accept-Encoding": {"gzip"}})
	for _, h := range bodyHeaders {
		if v, ok := cl.Response.Header[h]; ok {
			t.Errorf("101 response has %s: %q", h, v)
		}
	}
	cl.Emit("echo", strings.Repeat("z", 2000))
	cl.Expect(wseventstest.Event("echo", wsevents.KindText, strings.Repeat("z", 2000)))

	req, _ := http.NewRequest("GET", "http"+strings.TrimPrefix(url, "ws"), nil)
	req.Header = http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Origin":                {"http://evil.example"},
		"Accept-Encoding":       {"gzip"}, // set by hand: the transport does not decompress
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "origin") {
		t.Errorf("cross-origin handshake behind compression: %s %v %q, want 403 and the reason in clear", resp.Status, resp.Header, body)
	}
}

// TestTimeoutConfiguration pins down what doc.go says of
// Configuration.Timeout: its http.TimeoutHandler cannot hijack.
func TestTimeoutConfiguration(t *testing.T) {
	srv := newServer(t, echoEvents)
	app := newApp()
	app.Configure(iris.WithTimeout(5 * time.Second))
	app.Get("/ws", wsiris.Handler(srv))
	conn, resp, err := dial(serve(t, app)+"/ws", nil)
	if err == nil {
		conn.Close()
		t.Fatal("upgraded behind Configuration.Timeout")
	}
	if resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("behind Configuration.Timeout: %v, %v; want HTTP 500", err, resp)
	}
	if n := srv.Len(); n != 0 {
		t.Errorf("srv.Len() = %d", n)
	}
}

// TestSnapshotRaceFree: connections read their snapshot from other
// goroutines, during and after their life, while Iris serves a stream of
// other requests that reuse its pooled contexts. -race finds any read of
// a pooled context; the check finds a stale or mixed one.
func TestSnapshotRaceFree(t *testing.T) {
	stop := make(chan struct{})
	var readers sync.WaitGroup
	var bad atomic.Value
	srv := newServer(t, func(c wsevents.Connection) {
		room := wsiris.Param(c, "room")
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				user := wsiris.Get(c, "user")
				if got := wsiris.Params(c).Get("room"); got != room || user != "u-"+room || wsiris.Values(c).GetString("user") != user {
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
	app := newApp()
	app.Use(func(ctx iris.Context) { ctx.Values().Set("user", "u-"+ctx.Params().Get("room")); ctx.Next() })
	app.Get("/ws/{room}", wsiris.Handler(srv))
	app.Get("/other/{room}", func(ctx iris.Context) { ctx.WriteString(ctx.Params().Get("room")) })
	base := serve(t, app)

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
	wsiris.Handler(nil)
}

// bodyHeaders are the response headers that describe a message body, which
// a 101 has none of: RFC 9110 section 8.6 and RFC 9112 section 6.1 forbid
// Content-Length and Transfer-Encoding in a 1xx response, and a
// Content-Encoding there claims an encoding for bytes that are WebSocket
// frames. Core drops them (and Content-Type) from what middleware set.
var bodyHeaders = []string{"Content-Encoding", "Content-Length", "Transfer-Encoding", "Content-Type"}
