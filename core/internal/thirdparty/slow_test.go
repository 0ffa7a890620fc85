package thirdparty

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

// smallSendBuffers shrinks the server side's socket send buffers, so a
// stalled client backs up into the connection's queue after a few KiB
// instead of after whatever the kernel autotunes on loopback.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

const (
	slowMessages = 2000
	slowSize     = 1 << 10
	slowBatch    = 16 // messages emitted before waiting for the readers
)

// slowPayload is message i: its sequence number padded to 1 KiB.
func slowPayload(i int) string {
	s := fmt.Sprintf("%06d:", i)
	return s + strings.Repeat("x", slowSize-len(s))
}

type slowResult struct {
	stalledID string
	hookCalls atomic.Int64
	hookIDs   sync.Map
	maxEmit   time.Duration
	firstHook atomic.Int64 // UnixNano of the first OnSlowConsumer call
	gone      sync.Map     // connection ID -> time.Time of its OnDisconnect
}

// runSlowConsumer puts two readers (gorilla, coder) and one stalled raw
// client in room "r", emits slowMessages to the room, and checks that the
// readers got every message in order and that no Emit call blocked.
func runSlowConsumer(t *testing.T, cfg wsevents.Config) (*harness, *slowResult, *rawConn) {
	res := &slowResult{}
	cfg.OnSlowConsumer = func(c wsevents.Connection, dropped uint64) {
		res.firstHook.CompareAndSwap(0, time.Now().UnixNano())
		res.hookCalls.Add(1)
		res.hookIDs.Store(c.ID(), dropped)
	}
	onConn := func(c wsevents.Connection) {
		c.Join("r")
		c.OnDisconnect(func() { res.gone.Store(c.ID(), time.Now()) })
	}
	h := startOn(t, cfg, onConn, func(l net.Listener) net.Listener {
		return smallSendBuffers{l}
	})

	// The stalled client: never reads a byte after the handshake, and
	// advertises a tiny window.
	stalled := dialRawWith(t, h, smallRecvBuffer(4<<10), "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
	res.stalledID = h.next(t).ID()
	g := gorillaEvents(t, h)
	h.next(t)
	cc := coderEvents(t, h)
	h.next(t)
	if n := h.srv.RoomLen("r"); n != 3 {
		t.Fatalf("RoomLen = %d, want 3", n)
	}

	// Readers count what they received, in order.
	var progress [2]atomic.Int64
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	read := func(idx int, next func() (wmsg, error)) {
		defer wg.Done()
		for i := 0; i < slowMessages; i++ {
			m, err := next()
			if err != nil {
				errs <- fmt.Errorf("reader %d after %d messages: %w", idx, i, err)
				return
			}
			if m.typ != 'e' || m.name != "n" || len(m.payload) != slowSize {
				errs <- fmt.Errorf("reader %d: message %d is %v", idx, i, m)
				return
			}
			seq, _ := strconv.Atoi(m.payload[:6])
			if seq != i {
				errs <- fmt.Errorf("reader %d: got message %d, want %d (lost or reordered)", idx, seq, i)
				return
			}
			progress[idx].Store(int64(i + 1))
		}
	}
	wg.Add(2)
	go read(0, func() (wmsg, error) {
		g.SetReadDeadline(deadline())
		_, p, err := g.ReadMessage()
		if err != nil {
			return wmsg{}, err
		}
		return dec(p)
	})
	go read(1, func() (wmsg, error) {
		ctx, cancel := ctxWait()
		defer cancel()
		_, p, err := cc.Read(ctx)
		if err != nil {
			return wmsg{}, err
		}
		return dec(p)
	})

	// The emitter paces itself on the readers (so they never overflow the
	// small queue), never on the stalled client. Each Emit must return at
	// once: a blocking emit would wait for the stalled socket.
	emitDone := make(chan error, 1)
	go func() {
		for i := 0; i < slowMessages; i++ {
			t0 := time.Now()
			if err := h.srv.To("r").Emit("n", slowPayload(i)); err != nil {
				emitDone <- fmt.Errorf("Emit %d: %w", i, err)
				return
			}
			if d := time.Since(t0); d > res.maxEmit {
				res.maxEmit = d
			}
			if (i+1)%slowBatch == 0 {
				want := int64(i + 1)
				until := time.Now().Add(wait)
				for progress[0].Load() < want || progress[1].Load() < want {
					if time.Now().After(until) {
						emitDone <- fmt.Errorf("readers stuck at %d and %d of %d", progress[0].Load(), progress[1].Load(), want)
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
			}
		}
		emitDone <- nil
	}()
	select {
	case err := <-emitDone:
		if err != nil {
			t.Fatal(err)
		}
	case err := <-errs:
		t.Fatal(err)
	case <-time.After(4 * wait):
		t.Fatal("emitter did not finish")
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	// Half the write timeout: an Emit that waited on the stalled socket
	// would take the whole timeout.
	if limit := cfg.WriteTimeout / 2; res.maxEmit > limit {
		t.Fatalf("an Emit took %v: emits must not block on a slow consumer", res.maxEmit)
	}
	return h, res, stalled
}

func TestSlowConsumerDisconnect(t *testing.T) {
	h, res, _ := runSlowConsumer(t, wsevents.Config{
		MaxQueuedBytes: 64 << 10,
		WriteTimeout:   time.Second,
	})
	h.waitGone(t, res.stalledID)
	// Handled within the write timeout: the close frame cannot get past
	// the stalled socket, the write gives up after WriteTimeout and the
	// connection ends. The bound is loose (a loaded machine under -race): what it
	// rules out is waiting for keepalive (PongTimeout, a minute) or forever.
	eventually(t, "the stalled client's OnDisconnect", func() bool { _, ok := res.gone.Load(res.stalledID); return ok })
	goneAt, _ := res.gone.Load(res.stalledID)
	if d := goneAt.(time.Time).Sub(time.Unix(0, res.firstHook.Load())); d > 5*time.Second {
		t.Errorf("the stalled client ended %v after it overflowed, WriteTimeout is 1s", d)
	} else {
		t.Logf("the stalled client ended %v after it overflowed (WriteTimeout 1s)", d.Round(time.Millisecond))
	}
	eventually(t, "Len back to the two readers", func() bool { return h.srv.Len() == 2 })
	if n := h.srv.RoomLen("r"); n != 2 {
		t.Fatalf("RoomLen = %d after the slow consumer left, want 2", n)
	}
	if res.hookCalls.Load() == 0 {
		t.Fatal("OnSlowConsumer was not called")
	}
	res.hookIDs.Range(func(id, _ any) bool {
		if id != res.stalledID {
			t.Errorf("OnSlowConsumer called for reader %v", id)
		}
		return true
	})
}

func TestSlowConsumerDrop(t *testing.T) {
	h, res, stalled := runSlowConsumer(t, wsevents.Config{
		MaxQueuedBytes: 64 << 10,
		SlowConsumer:   wsevents.SlowConsumerDrop,
		WriteTimeout:   30 * time.Second, // longer than the test: the policy, not the timeout, is under test
	})
	c, ok := h.srv.Get(res.stalledID)
	if !ok {
		t.Fatal("the slow consumer was disconnected under SlowConsumerDrop")
	}
	dropped := c.Dropped()
	if dropped == 0 || h.srv.Stats().Dropped < dropped {
		t.Fatalf("Dropped() = %d, Stats().Dropped = %d: want > 0", dropped, h.srv.Stats().Dropped)
	}
	if dropped >= slowMessages {
		t.Fatalf("Dropped() = %d: nothing was queued at all", dropped)
	}
	if n := res.hookCalls.Load(); n != int64(dropped) {
		t.Fatalf("OnSlowConsumer called %d times for %d drops", n, dropped)
	}
	res.hookIDs.Range(func(id, _ any) bool {
		if id != res.stalledID {
			t.Errorf("OnSlowConsumer called for reader %v", id)
		}
		return true
	})
	if h.srv.Len() != 3 || h.srv.RoomLen("r") != 3 {
		t.Fatalf("Len %d, RoomLen %d: want 3 and 3", h.srv.Len(), h.srv.RoomLen("r"))
	}
	// The client going away ends it promptly despite the stuck writer.
	stalled.conn.Close()
	h.waitGone(t, res.stalledID)
}

// A consumer that falls behind and then reads again finds what was queued
// before the overflow, in order, then the 1008 close (PROTOCOL.md section 3).
func TestSlowConsumerSees1008(t *testing.T) {
	overflow := make(chan struct{})
	var once sync.Once
	h := startOn(t, wsevents.Config{
		MaxQueuedBytes: 32 << 10,
		OnSlowConsumer: func(wsevents.Connection, uint64) { once.Do(func() { close(overflow) }) },
	}, nil, func(l net.Listener) net.Listener { return smallSendBuffers{l} })
	rc := dialRawWith(t, h, smallRecvBuffer(4<<10), "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
	sc := h.next(t)

	sent := 0
	for ; sent < slowMessages; sent++ {
		select {
		case <-overflow:
		default:
			if err := sc.Emit("n", slowPayload(sent)); err == nil {
				continue
			}
		}
		break
	}
	select {
	case <-overflow:
	default:
		t.Fatalf("%d messages to a client that does not read never overflowed a 32 KiB queue", sent)
	}
	for i := 0; ; i++ {
		f, err := rc.readFrame()
		if err != nil {
			t.Fatalf("after %d messages: %v", i, err)
		}
		if f.op == opClose {
			if code := closeCode(f.payload); code != 1008 {
				t.Fatalf("close %d, want 1008", code)
			}
			if i == 0 {
				t.Fatal("nothing queued before the overflow arrived")
			}
			break
		}
		m, err := dec(f.payload)
		if err != nil {
			t.Fatal(err)
		}
		if seq, _ := strconv.Atoi(m.payload[:6]); seq != i {
			t.Fatalf("got message %d, want %d", seq, i)
		}
	}
	rc.write(clientFrame(fin, opClose, []byte{0x03, 0xF0}))
	h.waitGone(t, sc.ID())
}

// OnSlowConsumer may use the connection's room API (here: take the slow
// consumer out of the room it cannot keep up with) while a room emit is
// running: the hook must not run under the server's registry lock.
func TestSlowConsumerHookMayLeaveRoom(t *testing.T) {
	h := startOn(t, wsevents.Config{
		MaxQueuedBytes: 16 << 10,
		SlowConsumer:   wsevents.SlowConsumerDrop,
		WriteTimeout:   30 * time.Second,
		OnSlowConsumer: func(c wsevents.Connection, _ uint64) { c.Leave("r") },
	}, func(c wsevents.Connection) { c.Join("r") }, func(l net.Listener) net.Listener { return smallSendBuffers{l} })
	stalled := dialRawWith(t, h, smallRecvBuffer(4<<10), "Sec-WebSocket-Protocol: "+proto+"\r\n", nil)
	id := h.next(t).ID()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200 && h.srv.RoomLen("r") > 0; i++ {
			h.srv.To("r").Emit("n", slowPayload(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("deadlock: room emit blocked in OnSlowConsumer")
	}
	if h.srv.RoomLen("r") != 0 {
		t.Fatal("slow consumer still in the room")
	}
	stalled.conn.Close()
	h.waitGone(t, id)
}
