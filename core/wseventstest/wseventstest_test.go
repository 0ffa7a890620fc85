package wseventstest_test

import (
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

func mountCore(t testing.TB, srv *wsevents.Server) string {
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return "ws" + strings.TrimPrefix(ts.URL, "http")
}
