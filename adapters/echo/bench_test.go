package wsecho_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	wsecho "github.com/wsevents/wsevents/adapters/echo"
	wshttp "github.com/wsevents/wsevents/adapters/nethttp"
	wsevents "github.com/wsevents/wsevents/core"
)

// BenchmarkHandshake compares the WebSocket handshake through Echo with the
// net/http adapter, interleaved so that both see the same machine load.
// One cycle is: dial, send a pre-built upgrade request, read the 101,
// close, and wait until the server's handler has returned (so that one
// side's teardown is not timed on the other's). It reports each side's
// cycles per second and echo/nethttp, the ratio of the two rates.
func BenchmarkHandshake(b *testing.B) {
	e := echo.New()
	e.GET("/ws/:room", wsecho.Handler(benchServer(b)))
	viaEcho := startBench(b, e, "/ws/lobby", true)

	mux := http.NewServeMux()
	wshttp.Mount(mux, "/ws/{room}", benchServer(b))
	viaHTTP := startBench(b, mux, "/ws/lobby", true)

	var tEcho, tHTTP time.Duration
	for b.Loop() {
		tHTTP += viaHTTP.cycle(b)
		tEcho += viaEcho.cycle(b)
	}
	b.ReportMetric(float64(b.N)/tEcho.Seconds(), "echo-hs/s")
	b.ReportMetric(float64(b.N)/tHTTP.Seconds(), "nethttp-hs/s")
	b.ReportMetric(tHTTP.Seconds()/tEcho.Seconds(), "echo/nethttp")
	b.ReportMetric(0, "ns/op") // two cycles per op: the rates say it better
}

// BenchmarkHandshakeParallel is the throughput view: 8 clients per core
// keep the machine busy, each alternating between the two servers, and the
// ratio is that of the mean handshake latencies (dial to 101 and close;
// server teardown overlaps, as it does under load).
func BenchmarkHandshakeParallel(b *testing.B) {
	e := echo.New()
	e.GET("/ws/:room", wsecho.Handler(benchServer(b)))
	viaEcho := startBench(b, e, "/ws/lobby", false)
	mux := http.NewServeMux()
	wshttp.Mount(mux, "/ws/{room}", benchServer(b))
	viaHTTP := startBench(b, mux, "/ws/lobby", false)

	var tEcho, tHTTP atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			err := viaHTTP.handshake()
			mid := time.Now()
			if err == nil {
				err = viaEcho.handshake()
			}
			if err != nil {
				b.Error(err)
				return
			}
			tHTTP.Add(int64(mid.Sub(start)))
			tEcho.Add(int64(time.Since(mid)))
		}
	})
	// Each side's rate had the clients spent all their time on it.
	pairs := float64(b.N) / b.Elapsed().Seconds()
	share := float64(tEcho.Load()) / float64(tEcho.Load()+tHTTP.Load())
	b.ReportMetric(pairs/share, "echo-hs/s")
	b.ReportMetric(pairs/(1-share), "nethttp-hs/s")
	b.ReportMetric(float64(tHTTP.Load())/float64(tEcho.Load()), "echo/nethttp")
	b.ReportMetric(0, "ns/op")
}

func benchServer(b *testing.B) *wsevents.Server {
	srv := wsevents.New(wsevents.Config{})
	b.Cleanup(func() { srv.Shutdown(b.Context()) })
	return srv
}

// benchTarget is a server whose handler, if asked, reports on done when
// it returns.
type benchTarget struct {
	addr string
	req  []byte
	done chan struct{}
}

func startBench(b *testing.B, h http.Handler, path string, wait bool) *benchTarget {
	t := &benchTarget{}
	if wait {
		t.done = make(chan struct{}, 1)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if wait {
			t.done <- struct{}{}
		}
	}))
	b.Cleanup(ts.Close)
	t.addr = ts.Listener.Addr().String()
	t.req = []byte("GET " + path + " HTTP/1.1\r\nHost: " + t.addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13" +
		"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: wsevents.v1\r\n\r\n")
	return t
}

// cycle is one handshake and the wait for the server's handler to return.
func (t *benchTarget) cycle(b *testing.B) time.Duration {
	start := time.Now()
	if err := t.handshake(); err != nil {
		b.Fatal(err)
	}
	<-t.done
	return time.Since(start)
}

// handshake dials, upgrades with the pre-built request and closes.
func (t *benchTarget) handshake() error {
	conn, err := net.Dial("tcp", t.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write(t.req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Protocol") != wsevents.Subprotocol {
		return fmt.Errorf("handshake answered %s, subprotocol %q", resp.Status, resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	return nil
}
