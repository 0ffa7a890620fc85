package wsevents

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// A message of thousands of empty fragments costs no memory but unbounded
// work: past maxFragments it is closed with 1009.
func TestFragmentFlood(t *testing.T) {
	s := New(Config{PingPeriod: -1})
	s.OnConnection(func(c Connection) { c.OnMessage(func(m Message) { c.EmitMessage(m) }) })
	cl := dial(t, testServer(t, s))
	n := maxFragments(s.cfg.MaxMessageSize)
	var flood bytes.Buffer
	flood.Write(maskedFrame(0x01, []byte("x"), 1)) // text, not final
	for range n + 10 {
		flood.Write(maskedFrame(0x00, nil, 0)) // empty continuation
	}
	go cl.conn.Write(flood.Bytes()) // the server stops reading midway
	if code := cl.closeCode(); code != StatusMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	cl.conn.Close()

	// Up to the cap, a fragmented message is fine.
	cl2 := dial(t, testServer(t, s))
	var ok bytes.Buffer
	ok.Write(maskedFrame(0x01, []byte("a"), 1))
	for range n - 2 {
		ok.Write(maskedFrame(0x00, nil, 0))
	}
	ok.Write(maskedFrame(0x80, []byte("b"), 1))
	go cl2.conn.Write(ok.Bytes())
	cl2.expect("ab")
}

// A decompression bomb: ~100 KiB of deflate data that inflates to 100 MiB
// is closed with 1009 once the output passes MaxMessageSize, and inflating
// it allocates about the limit, not the 100 MiB.
func TestDecompressionBomb(t *testing.T) {
	s := New(Config{EnableCompression: true, PingPeriod: -1})
	s.OnConnection(func(c Connection) { c.OnMessage(func(m Message) { c.EmitMessage(m) }) })
	url := testServer(t, s)
	offer := wsflate.Parameters{ClientNoContextTakeover: true, ServerNoContextTakeover: true}
	d := ws.Dialer{Extensions: []httphead.Option{offer.Option()}, Timeout: 5 * time.Second}
	conn, _, _, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// 100 MiB of zeros, deflated (BestCompression) without the sync-flush
	// tail: made once, compressing it here takes long under -race.
	bomb, err := os.ReadFile("testdata/bomb-100MiB.deflate")
	if err != nil {
		t.Fatal(err)
	}
	if len(bomb) > 200<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	frame := maskedFrame(0x80|0x40|0x02, bomb, len(bomb))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	go conn.Write(frame)
	cl := &client{t: t, conn: conn}
	if code := cl.closeCode(); code != StatusMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	runtime.ReadMemStats(&after)
	// The whole test process: the inflate buffer grows to the limit (1 MiB)
	// by doubling; 16 MiB leaves room for everything else the test does.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("inflating the bomb allocated %d MiB", grew>>20)
	}
}

// A client that sends half its request line and headers and stalls never
// reaches ServeHTTP: http.Server.ReadHeaderTimeout (SECURITY.md) closes it.
func TestHalfRequestStall(t *testing.T) {
	s := New(Config{})
	connected := make(chan struct{}, 1)
	s.OnConnection(func(Connection) { connected <- struct{}{} })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 200 * time.Millisecond}
	go hs.Serve(ln)
	defer hs.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: " + ln.Addr().String() + "\r\nUpgrade: websocket\r\nConn"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	for err == nil {
		var m int
		m, err = conn.Read(buf[n:])
		n += m
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the stalled handshake was not closed")
	}
	if n > 0 && !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 408") && !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 400") {
		t.Fatalf("answer %q", buf[:n])
	}
	select {
	case <-connected:
		t.Fatal("a half request was upgraded")
	default:
	}
}
