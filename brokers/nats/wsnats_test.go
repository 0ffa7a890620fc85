package wsnats_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/goleak"

	wsnats "github.com/wsevents/wsevents/brokers/nats"
	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
)

// A node process of the multi-process case is this test binary started
// with these variables set.
const (
	envURL    = "WSNATS_TEST_NODE_URL"
	envPrefix = "WSNATS_TEST_NODE_PREFIX"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(envURL); url != "" {
		b, err := wsnats.Connect(url, wsnats.Options{Prefix: os.Getenv(envPrefix)})
		if err == nil {
			err = wseventstest.ServeClusterNode(b, os.Getenv("WSEVENTS_NODE_ID"))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// embedded is a NATS server in the test process that can be stopped and
// started again on the same port.
type embedded struct {
	mu   sync.Mutex
	srv  *server.Server
	port int
}

func (e *embedded) start(t testing.TB) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	port := e.port
	if port == 0 {
		port = -1 // any free port, kept for restarts
	}
	var srv *server.Server
	var err error
	// The port may still be held for a moment after a stop.
	for try := 0; try < 50; try++ {
		srv, err = server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
		if err == nil {
			go srv.Start()
			if srv.ReadyForConnections(5 * time.Second) {
				break
			}
			srv.Shutdown()
			err = fmt.Errorf("not ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("embedded NATS: %v", err)
	}
	e.srv = srv
	e.port = srv.Addr().(*net.TCPAddr).Port
}

func (e *embedded) stop(t testing.TB) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		e.srv = nil
	}
}

func (e *embedded) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", e.port) }

// subscriptions counts, in the NATS server itself, the subscriptions a
// message on subject would reach.
func (e *embedded) subscriptions(t testing.TB, subject string) int {
	t.Helper()
	e.mu.Lock()
	srv := e.srv
	e.mu.Unlock()
	if srv == nil {
		return -1
	}
	sz, err := srv.Subsz(&server.SubszOptions{Subscriptions: true, Test: subject, Limit: 1 << 20})
	if err != nil {
		t.Fatalf("subsz: %v", err)
	}
	return sz.Total
}

func TestCluster(t *testing.T) {
	e := &embedded{}
	e.start(t)
	defer e.stop(t)
	wseventstest.RunCluster(t, wseventstest.Cluster{
		Broker: func(t testing.TB, ns string) wsevents.Broker {
			b, err := wsnats.Connect(e.url(), wsnats.Options{Prefix: ns, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		Subscriptions: func(t testing.TB, ns, topic string) int {
			return e.subscriptions(t, wsnats.Subject(ns, topic))
		},
		Stop:  e.stop,
		Start: e.start,
		NodeCommand: func(t testing.TB, ns string) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envURL+"="+e.url(), envPrefix+"="+ns)
			return cmd
		},
	})
}

func TestSubjectTokens(t *testing.T) {
	for topic, want := range map[string]string{
		"all":             "p.all",
		"node.n1":         "p.node.n1",
		"room.lobby-1_b":  "p.room.lobby-1_b",
		"room.a.b":        "p.room.~YS5i",
		"room.*":          "p.room.~Kg",
		"room.>":          "p.room.~Pg",
		"room.with space": "p.room.~d2l0aCBzcGFjZQ",
		"room.~Kg":        "p.room.~fktn", // an encoded-looking name is encoded too
	} {
		if got := wsnats.Subject("p", topic); got != want {
			t.Errorf("Subject(%q) = %q, want %q", topic, got, want)
		}
	}
}

func TestConnectRefused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := wsnats.Connect("nats://"+addr, wsnats.Options{}); err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
}
