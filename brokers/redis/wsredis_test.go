package wsredis_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	wsredis "github.com/wsevents/wsevents/brokers/redis"
	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
)

// A node process of the multi-process case is this test binary started
// with these variables set.
const (
	envNodeAddr   = "WSREDIS_TEST_NODE_ADDR"
	envNodePrefix = "WSREDIS_TEST_NODE_PREFIX"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(envNodeAddr); addr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		err := wseventstest.ServeClusterNode(wsredis.New(rdb, wsredis.Options{Prefix: os.Getenv(envNodePrefix)}), os.Getenv("WSEVENTS_NODE_ID"))
		rdb.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// server is the Redis the tests use: WSEVENTS_REDIS_ADDR if set; else a
// redis-server the test starts on a free port (the only kind it may stop
// and restart: never the machine's shared one); else 127.0.0.1:6379 if
// something answers there. Without any, the tests skip, except with
// CI=true where a missing Redis fails them.
type server struct {
	addr string
	mu   sync.Mutex
	cmd  *exec.Cmd // nil when the test does not own the server
	own  bool
}

func redisServer(t *testing.T) *server {
	t.Helper()
	if addr := os.Getenv("WSEVENTS_REDIS_ADDR"); addr != "" {
		return &server{addr: addr}
	}
	if path, err := exec.LookPath("redis-server"); err == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s := &server{addr: addr, own: true}
		s.start(t, path)
		t.Cleanup(func() { s.stop(t) })
		return s
	}
	if answers("127.0.0.1:6379") {
		return &server{addr: "127.0.0.1:6379"}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Redis: set WSEVENTS_REDIS_ADDR or install redis-server (.ci/run does)")
	}
	t.Skip("no Redis: set WSEVENTS_REDIS_ADDR or install redis-server")
	return nil
}

func answers(addr string) bool {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err() == nil
}

func (s *server) start(t testing.TB, path string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, port, _ := net.SplitHostPort(s.addr)
	for try := 0; ; try++ {
		cmd := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && !answers(s.addr) {
			time.Sleep(20 * time.Millisecond)
		}
		if answers(s.addr) {
			s.cmd = cmd
			return
		}
		cmd.Process.Kill()
		cmd.Wait()
		if try == 10 {
			t.Fatalf("redis-server on %s does not answer", s.addr)
		}
		time.Sleep(200 * time.Millisecond) // the port may be held a moment after a stop
	}
}

func (s *server) stop(t testing.TB) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

func (s *server) client(t testing.TB) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: s.addr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestCluster(t *testing.T) {
	s := redisServer(t)
	admin := s.client(t)
	c := wseventstest.Cluster{
		Broker: func(t testing.TB, ns string) wsevents.Broker {
			return wsredis.New(s.client(t), wsredis.Options{Prefix: ns, ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond})
		},
		Subscriptions: func(t testing.TB, ns, topic string) int {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			ch := wsredis.Channel(ns, topic)
			n, err := admin.PubSubNumSub(ctx, ch).Result()
			if err != nil {
				return -1 // down during the restart case
			}
			return int(n[ch])
		},
		NodeCommand: func(t testing.TB, ns string) *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), envNodeAddr+"="+s.addr, envNodePrefix+"="+ns)
			return cmd
		},
	}
	if s.own {
		path, _ := exec.LookPath("redis-server")
		c.Stop = s.stop
		c.Start = func(t testing.TB) { s.start(t, path) }
	} else if os.Getenv("CI") == "true" {
		// The restart case needs a redis-server of the test's own; CI
		// installs one, so running without it there is a broken setup.
		t.Fatal("CI=true: no redis-server binary of the test's own to restart (is WSEVENTS_REDIS_ADDR set?)")
	}
	wseventstest.RunCluster(t, c)
}

func TestChannels(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	b := wsredis.New(rdb, wsredis.Options{Prefix: "p"})
	for topic, want := range map[string]string{"all": "p:all", "room.a b.*": "p:room.a b.*", "node.n1": "p:node.n1"} {
		if got := b.Channel(topic); got != want || wsredis.Channel("p", topic) != want {
			t.Errorf("Channel(%q) = %q, want %q", topic, got, want)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// A node whose Redis is not there starts as down and serves its own
// clients; it is not an error at New.
func TestStartsDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	s := wsevents.New(wsevents.Config{Broker: wsredis.New(rdb, wsredis.Options{Timeout: 200 * time.Millisecond})})
	if err := s.To(wsevents.All).Emit("x", 1); err != nil {
		t.Fatalf("emit with Redis down: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := s.Stats().Broker; st.Up || st.Lost != 1 || st.Outages != 1; st = s.Stats().Broker {
		if time.Now().After(deadline) {
			t.Fatalf("stats with Redis down: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
