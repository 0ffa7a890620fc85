package wsredis_test

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wsredis "github.com/wsevents/wsevents/brokers/redis"
	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/core/wseventstest"
)

// BenchmarkBroadcast is brokers/nats's BenchmarkBroadcast over Redis
// Pub/Sub: a broadcast to 100 clients of the emitting node (single-node)
// beside the same broadcast to 100 clients of another node (cross-node).
// Read the two as a ratio, measured in the same run: ns/op is one
// broadcast delivered to every client, ns/delivery the same per client,
// p50-µs the median time from the emit to a client's read. The clients
// (gorilla, through wseventstest.Dial) run in the same process and cost
// the same in both.
//
// The Redis is found as the tests find theirs: WSEVENTS_REDIS_ADDR, else a
// redis-server of the benchmark's own, else 127.0.0.1:6379.
//
//	go test -run '^$' -bench Broadcast -benchtime 2000x
func BenchmarkBroadcast(b *testing.B) {
	s := benchRedis(b)
	for _, cross := range []bool{false, true} {
		name := "single-node"
		if cross {
			name = "cross-node"
		}
		b.Run(name, func(b *testing.B) { benchBroadcast(b, s, cross, 100) })
	}
}

// benchRedis is redisServer for a benchmark.
func benchRedis(b *testing.B) *server {
	if addr := os.Getenv("WSEVENTS_REDIS_ADDR"); addr != "" {
		return &server{addr: addr}
	}
	if path, err := exec.LookPath("redis-server"); err == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		s := &server{addr: addr, own: true}
		s.start(b, path)
		b.Cleanup(func() { s.stop(b) })
		return s
	}
	if answers("127.0.0.1:6379") {
		return &server{addr: "127.0.0.1:6379"}
	}
	if os.Getenv("CI") == "true" {
		b.Fatal("no Redis: set WSEVENTS_REDIS_ADDR or install redis-server (.ci/run does)")
	}
	b.Skip("no Redis: set WSEVENTS_REDIS_ADDR or install redis-server")
	return nil
}

func benchBroadcast(b *testing.B, s *server, cross bool, clients int) {
	// Channels of their own: runs do not hear each other on a shared Redis.
	prefix := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	node := func() *wsevents.Server {
		br := wsredis.New(s.client(b), wsredis.Options{Prefix: prefix})
		return wsevents.New(wsevents.Config{Broker: br, MaxQueuedMessages: 1 << 16, MaxQueuedBytes: 1 << 28})
	}
	emitter := node()
	receiver := emitter
	if cross {
		receiver = node()
	}
	defer emitter.Shutdown(b.Context())
	if cross {
		defer receiver.Shutdown(b.Context())
	}
	ts := httptest.NewServer(receiver)
	defer ts.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http")

	var received atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	defer wg.Wait() // after the connections' Close below
	for i := 0; i < clients; i++ {
		conn := wseventstest.Dial(b, url, nil).Conn
		defer conn.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, p, err := conn.ReadMessage()
				if err != nil {
					return
				}
				_, stamp, _ := strings.Cut(string(p), "\n")
				if ns, err := strconv.ParseInt(stamp, 10, 64); err == nil {
					lat[i] = append(lat[i], time.Duration(time.Now().UnixNano()-ns))
					received.Add(1)
				}
			}
		}()
	}
	waitUntil(b, func() bool { return receiver.Len() == clients })
	emitter.ClusterNodes() // the emitting node joins the cluster
	if cross {
		waitUntil(b, func() bool { return len(emitter.ClusterNodes()) == 1 && len(receiver.ClusterNodes()) == 1 })
	}

	const window = 32 // emits in flight: what the nodes' queues take without dropping
	stamp := make([]byte, 0, 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stamp = strconv.AppendInt(stamp[:0], time.Now().UnixNano(), 10)
		if err := emitter.To(wsevents.All).EmitRaw("t", wsevents.KindJSON, stamp); err != nil {
			b.Fatal(err)
		}
		if i%window == window-1 || i == b.N-1 {
			want := int64(i+1) * int64(clients)
			waitUntil(b, func() bool { return received.Load() >= want })
		}
	}
	b.StopTimer()
	if lost := emitter.Stats().Broker.Lost; lost != 0 {
		b.Fatalf("%d broadcasts could not cross", lost)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(b.N)*int64(clients)), "ns/delivery")
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	}
}

// waitUntil polls cond; a benchmark that loses messages fails instead of
// hanging.
func waitUntil(b *testing.B, cond func() bool) {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatal("timed out: messages lost?")
		}
		time.Sleep(20 * time.Microsecond)
	}
}
