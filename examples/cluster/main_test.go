package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"
)

func TestClusterNATS(t *testing.T) {
	testCluster(t, options{})
}

// TestClusterRedis runs the example on a redis-server of its own when one
// is installed, else on WSEVENTS_REDIS_ADDR; with neither it skips (fails
// with CI=true).
func TestClusterRedis(t *testing.T) {
	addr := os.Getenv("WSEVENTS_REDIS_ADDR")
	if path, err := exec.LookPath("redis-server"); err == nil && addr == "" {
		addr = startRedis(t, path)
	}
	if addr == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Redis: install redis-server or set WSEVENTS_REDIS_ADDR")
		}
		t.Skip("no Redis: install redis-server or set WSEVENTS_REDIS_ADDR")
	}
	testCluster(t, options{redisAddr: addr, prefix: fmt.Sprintf("example-test-%d", time.Now().UnixNano())})
}

func startRedis(t *testing.T, path string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	cmd := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	deadline := time.Now().Add(5 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s does not answer", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}

// chatter is a gorilla client collecting the chat lines it receives.
type chatter struct {
	conn  *websocket.Conn
	mu    sync.Mutex
	lines []string
	node  string
	done  chan struct{}
}

func join(t *testing.T, addr string) *chatter {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"wsevents.v1"}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial("ws://"+addr+"/chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &chatter{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, p, err := conn.ReadMessage()
			if err != nil {
				return
			}
			c.mu.Lock()
			switch msg := string(p); {
			case strings.HasPrefix(msg, "et:node\n"):
				c.node = strings.TrimPrefix(msg, "et:node\n")
			case strings.HasPrefix(msg, "et:chat\nStatus:"):
			default:
				c.lines = append(c.lines, strings.TrimPrefix(msg, "et:chat\n"))
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-c.done
	})
	return c
}

func (c *chatter) nodeName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.node
}

func (c *chatter) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.lines)
	sort.Strings(out)
	return out
}

func testCluster(t *testing.T, opts options) {
	var lns []net.Listener
	for i := 0; i < 3; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	cl, err := startCluster(opts, lns)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := cl.close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	}()

	for _, ln := range lns {
		for path, want := range map[string]string{"/": "new Ws(", "/wsevents.js": "Code generated"} {
			resp, err := http.Get("http://" + ln.Addr().String() + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
				t.Fatalf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
			}
		}
	}

	var people []*chatter
	for _, ln := range lns {
		people = append(people, join(t, ln.Addr().String()))
	}
	// Each node greets its client once the connection is registered (in
	// OnConnection): before that, a broadcast would not count it. The
	// handshake's 101 comes first, so wait for the greeting.
	for i, p := range people {
		deadline := time.Now().Add(5 * time.Second)
		for p.nodeName() == "" {
			if time.Now().After(deadline) {
				t.Fatalf("client of node %d never greeted", i+1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// A node that knows the two others has its subscriptions in place:
	// it says hello only once they are.
	deadline := time.Now().Add(5 * time.Second)
	for _, n := range cl.nodes {
		for len(n.ClusterNodes()) != 2 {
			if time.Now().After(deadline) {
				t.Fatal("the nodes did not find each other")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	want := make([][]string, len(people))
	for i, p := range people {
		text := fmt.Sprintf("hello from %d", i)
		p.conn.WriteMessage(websocket.TextMessage, []byte("et:chat\n"+text))
		for j := range people {
			if i == j {
				want[j] = append(want[j], "me: "+text)
			} else {
				want[j] = append(want[j], text)
			}
		}
	}
	for i, p := range people {
		sort.Strings(want[i])
		deadline := time.Now().Add(5 * time.Second)
		for len(p.got()) < len(want[i]) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond) // room for a duplicate
	for i, p := range people {
		if got := p.got(); !slices.Equal(got, want[i]) {
			t.Errorf("client of node %d got %q, want %q", i+1, got, want[i])
		}
		if n := p.nodeName(); n != fmt.Sprintf("node %d", i+1) {
			t.Errorf("client of node %d was told it is on %q", i+1, n)
		}
	}
}
