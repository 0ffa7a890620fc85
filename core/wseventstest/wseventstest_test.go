package wseventstest_test

import (
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestCore runs the table against the bare core Server, which is an
// http.Handler: the reference every adapter must match.
func TestCore(t *testing.T) {
	wseventstest.Run(t, mountCore)
}

// TestServe runs the table against the raw-listener path: Serve on a
// listener of its own, no net/http server in front.
func TestServe(t *testing.T) {
	wseventstest.Run(t, mountServe)
}

func mountServe(t testing.TB, srv *wsevents.Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		// The kit's own cleanup, registered after this one, has shut srv
		// down: Serve has returned or is about to.
		if err := <-done; !errors.Is(err, wsevents.ErrServerClosed) {
			t.Errorf("Serve: %v, want ErrServerClosed", err)
		}
	})
	return "ws://" + ln.Addr().String() + "/chat"
}

func mountCore(t testing.TB, srv *wsevents.Server) string {
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}
