package wseventstest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

// Mount serves srv through the adapter under test on a real listener and
// returns the ws:// URL of the route srv is mounted on. It registers the
// listener's cleanup with t.Cleanup. It need not shut srv down: the kit
// does, in a cleanup registered after Mount returns, so it runs first.
type Mount func(t testing.TB, srv *wsevents.Server) (wsURL string)

// testCase is one entry of the conformance table.
type testCase struct {
	name string
	run  func(t *testing.T, mount Mount)
}

// cases is the table Run runs, in order.
func cases() []testCase {
	return []testCase{
		{"connect", testConnect},
		{"events", testEvents},
		{"native", testNative},
		{"ask-server-to-client", testAskServerToClient},
		{"ask-client-to-server", testAskClientToServer},
		{"broadcast", testBroadcast},
		{"rooms", testRooms},
		{"disconnect", testDisconnect},
		{"shutdown", testShutdown},
		{"request", testRequest},
		{"origin", testOrigin},
		{"oversize", testOversize},
		{"idle", testIdle},
	}
}

// Run runs the conformance table against mount, one subtest per case
// (select cases with go test -run 'TestX/rooms'). Each case creates its
// own Server, mounts it, and talks to it with an independent client.
//
// After each case the kit shuts the case's Server down and checks that
// every goroutine running core code that the case started has ended. So
// Run must not run in parallel with other tests of the same process that
// serve wsevents connections.
func Run(t *testing.T, mount Mount) {
	t.Helper()
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, mount) })
	}
}

// serve creates a Server with cfg and onConn, mounts it, and returns it
// with its URL. Its cleanup shuts the Server down (after the clients'
// cleanups closed them, as they were registered later) and checks for
// goroutines left behind.
func serve(t *testing.T, mount Mount, cfg wsevents.Config, onConn func(wsevents.Connection)) (*wsevents.Server, string) {
	t.Helper()
	before := coreGoroutines()
	srv := wsevents.New(cfg)
	if onConn != nil {
		srv.OnConnection(onConn)
	}
	url := mount(t, srv)
	if !strings.HasPrefix(url, "ws://") {
		t.Fatalf("Mount returned %q, want a ws:// URL (the kit's client dials without TLS)", url)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := waitCoreGoroutines(before); err != nil {
			t.Error(err)
		}
	})
	return srv, url
}

// corePrefix marks stack frames of core's own code (this kit's frames read
// "core/wseventstest.", not "core.").
const corePrefix = "github.com/wsevents/wsevents/core."

// coreGoroutines returns the stacks of the goroutines running core code,
// by goroutine header ("goroutine 7 [running]:" without the state).
func coreGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	gs := make(map[string]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, corePrefix) {
			continue
		}
		id, _, _ := strings.Cut(g, " [")
		gs[id] = g
	}
	return gs
}

// waitCoreGoroutines waits until no goroutine runs core code but those in
// before (left by an earlier case, which reported them), and returns the
// stacks of those that remain.
func waitCoreGoroutines(before map[string]string) error {
	deadline := time.Now().Add(timeout)
	for {
		var left []string
		for id, g := range coreGoroutines() {
			if _, old := before[id]; !old {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines still run core code after Shutdown:\n\n%s",
				len(left), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recv waits for a value from ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// waitFor polls cond until it holds; it replaces sleeps and never asserts
// timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
