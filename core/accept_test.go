package wsevents

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

type ctxKey struct{}

// A connection keeps its upgrade request without the handshake's own
// headers: everything else (other headers, cookies, URL, context values
// set by middleware) stays, and IDGenerator sees the request whole.
func TestRequestKeptWithoutHandshakeHeaders(t *testing.T) {
	var idSawKey bool
	s := New(Config{IDGenerator: func(r *http.Request) string {
		idSawKey = r.Header.Get("Sec-WebSocket-Key") != ""
		return "conn-1"
	}})
	got := make(chan *http.Request, 1)
	s.OnConnection(func(c Connection) { got <- c.Request() })
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, "alice")))
	})
	ts := httptest.NewServer(mw)
	defer ts.Close()
	defer s.Shutdown(context.Background())

	h := ws.HandshakeHeaderHTTP(http.Header{
		"X-Tenant":   {"t1", "t2"},
		"Cookie":     {"session=abc"},
		"User-Agent": {"wsevents-test"},
	})
	d := ws.Dialer{Protocols: []string{Subprotocol}, Header: h}
	conn, _, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/room?x=1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := <-got
	if !idSawKey {
		t.Error("IDGenerator did not see the whole request")
	}
	for _, k := range []string{"Sec-WebSocket-Key", "Sec-WebSocket-Version", "Upgrade", "Connection"} {
		if v := r.Header.Values(k); len(v) > 0 {
			t.Errorf("kept handshake header %s: %q", k, v)
		}
	}
	if v := r.Header.Values("X-Tenant"); len(v) != 2 || v[0] != "t1" || v[1] != "t2" {
		t.Errorf("X-Tenant %q, want [t1 t2]", v)
	}
	if r.Header.Get("Sec-WebSocket-Protocol") != Subprotocol {
		t.Errorf("Sec-WebSocket-Protocol %q dropped", r.Header.Get("Sec-WebSocket-Protocol"))
	}
	if ck, err := r.Cookie("session"); err != nil || ck.Value != "abc" {
		t.Errorf("cookie: %v %v", ck, err)
	}
	if r.UserAgent() != "wsevents-test" || r.URL.Path != "/room" || r.URL.Query().Get("x") != "1" || r.Method != http.MethodGet || r.RemoteAddr == "" {
		t.Errorf("request fields lost: UA %q path %q query %q method %q remote %q", r.UserAgent(), r.URL.Path, r.URL.RawQuery, r.Method, r.RemoteAddr)
	}
	if v, _ := r.Context().Value(ctxKey{}).(string); v != "alice" {
		t.Errorf("context value %q, want alice", v)
	}
}
