package wseventstest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
)

// brokenMounts break what an adapter can break. fail lists the cases that
// must notice; every other case must pass.
var brokenMounts = map[string]struct {
	wrap func(http.Handler) http.Handler
	fail []string
}{
	// A framework that hands core a ResponseWriter it cannot hijack.
	"no-hijack": {
		wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(struct{ http.ResponseWriter }{w}, r)
			})
		},
		fail: []string{"connect", "events", "native", "ask-server-to-client", "ask-client-to-server",
			"broadcast", "rooms", "disconnect", "shutdown", "request", "origin", "oversize", "idle"},
	},
	// A framework that rebuilds the request and loses its query and the
	// headers WebSocket does not need.
	"strip-request": {
		wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r2 := r.Clone(r.Context())
				r2.URL.RawQuery = ""
				for k := range r2.Header {
					if !strings.HasPrefix(k, "Sec-Websocket-") && k != "Connection" && k != "Upgrade" {
						delete(r2.Header, k)
					}
				}
				h.ServeHTTP(w, r2)
			})
		},
		fail: []string{"request", "origin"},
	},
}

// TestCasesCanFail runs the table against each broken mount in a child
// process and checks which cases fail.
func TestCasesCanFail(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the table in child processes")
	}
	result := regexp.MustCompile(`--- (PASS|FAIL): TestBrokenMount/(\S+)`)
	for name, b := range brokenMounts {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenMount$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), "WSEVENTSTEST_BROKEN="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the table passed against a broken mount:\n%s", out)
			}
			var failed, passed []string
			for _, m := range result.FindAllStringSubmatch(string(out), -1) {
				if m[1] == "FAIL" {
					failed = append(failed, m[2])
				} else {
					passed = append(passed, m[2])
				}
			}
			want := slices.Clone(b.fail)
			slices.Sort(want)
			slices.Sort(failed)
			if !slices.Equal(failed, want) {
				t.Errorf("failed cases %v, want %v (passed: %v); output:\n%s", failed, want, passed, out)
			}
		})
	}
}

// TestBrokenMount is the child of TestCasesCanFail.
func TestBrokenMount(t *testing.T) {
	name := os.Getenv("WSEVENTSTEST_BROKEN")
	if name == "" {
		t.Skip("run by TestCasesCanFail")
	}
	wrap := brokenMounts[name].wrap
	wseventstest.Run(t, func(t testing.TB, srv *wsevents.Server) string {
		ts := httptest.NewServer(wrap(srv))
		t.Cleanup(ts.Close)
		return "ws" + strings.TrimPrefix(ts.URL, "http")
	})
}
