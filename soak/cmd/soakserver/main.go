// Command soakserver is the server process of the soak test: a wsevents
// Server with fixed rooms and the SlowConsumerDrop policy, whose
// application relays clients' messages to rooms, broadcasts, and sends
// bursts to the flood room, counting per connection every message it
// addresses. The driver (package soak) starts it; it is not meant to be
// run by hand.
//
// It prints "listening HOST:PORT" first. The WebSocket endpoint is /ws
// (the connection ID is the "id" query parameter); the driver controls
// the run over HTTP:
//
//	POST /control/start    start broadcasts, flood bursts and memory samples
//	POST /control/stop     stop broadcasts and floods (returns when they have)
//	GET  /control/status   connections, dones, whether the fence went out
//	GET  /control/report   the ServerReport, once every connection got its fence
//
// When every connection has sent "done", a fence message is queued on each
// (retried while its queue is full): nothing is addressed to it after that.
// A connection that sends "goodbye" during the run (churn) is taken out of
// its rooms and of soak.AllRoom, where broadcasts go, and gets a farewell
// with its counts instead; its close after that is a clean leave, counted
// apart from unexpected disconnects.
// SIGTERM or the end of standard input shuts the server down.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
	"github.com/wsevents/wsevents/soak"
)

type options struct {
	rooms          int
	queue          int
	broadcastEvery time.Duration
	floodEvery     time.Duration
	floodBurst     int
	floodSize      int
	sampleEvery    time.Duration
	sndbuf         int
}

// member is the application's record of one connection.
type member struct {
	idx, gen int
	c        wsevents.Connection
	expected atomic.Uint64
	left     atomic.Bool         // said goodbye; nothing is addressed to it any more
	rooms    map[string]struct{} // touched only on the connection's goroutine
	buf      []byte              // scratch for relayed payloads, same goroutine
}

// room sequences its membership changes and emits under one lock, so the
// members counted for a message are the ones the core delivers it to.
type room struct {
	mu      sync.Mutex
	name    string
	seq     uint64
	members map[*member]struct{}
}

type app struct {
	ws    *wsevents.Server
	opts  options
	rooms map[string]*room // fixed at start: read without a lock

	liveMu  sync.Mutex // sequences broadcasts with connects, goodbyes and disconnects
	live    map[*member]struct{}
	all     map[*member]struct{} // every connection not yet retired, for the report
	retired []soak.ConnCount     // final counts of the connections that left cleanly

	pubs, broadcasts, flood, fences    atomic.Uint64
	joins, leaves, joinErrors, badPubs atomic.Uint64
	expected, hookCalls, disconnects   atomic.Uint64
	unsound, fenceErrors, dones        atomic.Uint64
	goodbyes, cleanLeaves              atomic.Uint64

	started   atomic.Bool
	startedAt time.Time
	stopLoops chan struct{}
	loops     sync.WaitGroup
	fenceOnce sync.Once
	fenced    chan struct{}

	samplesMu sync.Mutex
	samples   []soak.MemSample
}

func newApp(o options, logger *slog.Logger) *app {
	a := &app{
		opts:      o,
		rooms:     make(map[string]*room, o.rooms+1),
		live:      make(map[*member]struct{}),
		all:       make(map[*member]struct{}),
		stopLoops: make(chan struct{}),
		fenced:    make(chan struct{}),
	}
	for i := range o.rooms {
		a.addRoom(soak.RoomName(i))
	}
	a.addRoom(soak.FloodRoom)
	a.ws = wsevents.New(wsevents.Config{
		IDGenerator: func(r *http.Request) string {
			if id := r.URL.Query().Get("id"); id != "" {
				return id
			}
			return "anonymous-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		},
		SlowConsumer:      wsevents.SlowConsumerDrop,
		MaxQueuedMessages: o.queue,
		OnSlowConsumer:    func(wsevents.Connection, uint64) { a.hookCalls.Add(1) },
		// Slow readers pause for a few seconds: longer than that is a
		// failure of the run, not a policy to exercise. A paused reader
		// answers a ping only after it resumes and reads through the
		// backlog in front of it (slower under -race on a loaded machine),
		// so the pong timeout leaves it several times its pause.
		WriteTimeout: 30 * time.Second,
		PingPeriod:   10 * time.Second,
		PongTimeout:  20 * time.Second,
		Logger:       logger,
	})
	a.ws.OnConnection(a.connected)
	return a
}

func (a *app) addRoom(name string) {
	a.rooms[name] = &room{name: name, members: make(map[*member]struct{})}
}

func (a *app) connected(c wsevents.Connection) {
	idx, gen, ok := soak.ParseConnID(c.ID())
	if !ok {
		idx = -1
	}
	m := &member{idx: idx, gen: gen, c: c, rooms: make(map[string]struct{})}
	a.liveMu.Lock()
	if err := c.Join(soak.AllRoom); err != nil {
		a.joinErrors.Add(1)
	}
	a.live[m] = struct{}{}
	a.all[m] = struct{}{}
	a.liveMu.Unlock()
	c.On(soak.EvJoin, func(name string) { a.join(m, name) })
	c.On(soak.EvLeave, func(name string) { a.leave(m, name) })
	c.On(soak.EvPub, func(p []byte) { a.pub(m, p) })
	c.On(soak.EvDone, func() { a.done() })
	c.On(soak.EvGoodbye, func() { a.goodbye(m) })
	c.OnDisconnect(func() {
		if m.left.Load() {
			a.retire(m)
			return
		}
		a.disconnects.Add(1)
		for name := range m.rooms {
			a.removeFrom(m, name)
		}
		a.liveMu.Lock()
		delete(a.live, m)
		a.liveMu.Unlock()
	})
}

// goodbye is a clean leave (churn): m is taken out of its rooms under
// their locks and out of the live set and AllRoom under liveMu, the locks
// that sequence every emit, so once it returns from them no message is
// addressed to m; then the farewell tells the client what was.
func (a *app) goodbye(m *member) {
	if m.left.Load() {
		a.joinErrors.Add(1) // a second goodbye: a client bug
		return
	}
	for name := range m.rooms {
		a.removeFrom(m, name)
	}
	a.liveMu.Lock()
	m.c.Leave(soak.AllRoom)
	delete(a.live, m)
	m.left.Store(true)
	a.liveMu.Unlock()
	a.goodbyes.Add(1)
	a.farewell(m)
}

// farewell queues "addressed|dropped" on m, the farewell itself counted
// in addressed, retrying like the fence while the policy drops it. m gets
// nothing else any more, so when the emit succeeds neither count can
// change after it.
func (a *app) farewell(m *member) {
	var b []byte
	a.emitUntilQueued(m, soak.EvFarewell, func() []byte {
		dropped := m.c.Dropped()
		b = strconv.AppendUint(b[:0], m.expected.Load()+1, 10)
		b = append(b, '|')
		return strconv.AppendUint(b, dropped, 10)
	})
}

// emitUntilQueued emits event to m with the payload built by payload
// (again for each attempt) until it is queued: each attempt counts as
// addressed to m, a policy drop included, as any other emit does. It
// gives up, counted in fenceErrors, on another error or after 1,000
// drops in a row.
func (a *app) emitUntilQueued(m *member, event string, payload func() []byte) {
	for attempt := 0; ; attempt++ {
		err := m.c.EmitRaw(event, wsevents.KindText, payload())
		if err == nil || errors.Is(err, wsevents.ErrQueueFull) {
			m.expected.Add(1)
			a.expected.Add(1)
		}
		if err == nil {
			return
		}
		if !errors.Is(err, wsevents.ErrQueueFull) || attempt > 1000 {
			a.fenceErrors.Add(1)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// retire records the final counts of m, which left cleanly and is now
// closed, and forgets the connection.
func (a *app) retire(m *member) {
	a.cleanLeaves.Add(1)
	cc := soak.ConnCount{Idx: m.idx, Gen: m.gen, Expected: m.expected.Load(), Dropped: m.c.Dropped(), Left: true}
	a.liveMu.Lock()
	a.retired = append(a.retired, cc)
	delete(a.all, m)
	a.liveMu.Unlock()
}

func (a *app) join(m *member, name string) {
	r := a.rooms[name]
	if r == nil {
		a.joinErrors.Add(1)
		return
	}
	r.mu.Lock()
	if err := m.c.Join(name); err != nil {
		a.joinErrors.Add(1)
	} else {
		r.members[m] = struct{}{}
		m.rooms[name] = struct{}{}
		a.joins.Add(1)
	}
	r.mu.Unlock()
}

// leave handles a client's leave event.
func (a *app) leave(m *member, name string) {
	a.removeFrom(m, name)
	a.leaves.Add(1)
}

// removeFrom takes m out of the room name, under the room's lock.
func (a *app) removeFrom(m *member, name string) {
	r := a.rooms[name]
	if r == nil {
		return
	}
	r.mu.Lock()
	m.c.Leave(name)
	delete(r.members, m)
	delete(m.rooms, name)
	r.mu.Unlock()
}

// pub relays "room|seq|pad" from m to the room's other members as
// "room|roomseq|sender|seq|pad".
func (a *app) pub(m *member, p []byte) {
	i := bytes.IndexByte(p, '|')
	if i < 0 {
		a.badPubs.Add(1)
		return
	}
	r := a.rooms[string(p[:i])]
	if r == nil || r.name == soak.FloodRoom {
		a.badPubs.Add(1)
		return
	}
	r.mu.Lock()
	r.seq++
	b := append(m.buf[:0], r.name...)
	b = append(b, '|')
	b = strconv.AppendUint(b, r.seq, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, int64(m.idx), 10)
	b = append(b, p[i:]...)
	m.buf = b
	m.c.To(r.name).EmitRaw(soak.EvRoomMsg, wsevents.KindText, b)
	n := 0
	for x := range r.members {
		if x != m {
			x.expected.Add(1)
			n++
		}
	}
	r.mu.Unlock()
	a.expected.Add(uint64(n))
	a.pubs.Add(1)
}

// done counts connections that will send nothing more; after the last,
// the fence goes out.
func (a *app) done() {
	n := a.dones.Add(1)
	a.liveMu.Lock()
	all := uint64(len(a.live))
	a.liveMu.Unlock()
	if n >= all {
		a.fenceOnce.Do(func() { go a.fence() })
	}
}

// fence queues the last message on every connection, retrying while the
// slow-consumer policy drops it (each drop counted like any other).
func (a *app) fence() {
	defer close(a.fenced)
	a.liveMu.Lock()
	list := make([]*member, 0, len(a.live))
	for m := range a.live {
		list = append(list, m)
	}
	a.liveMu.Unlock()
	for _, m := range list {
		a.emitUntilQueued(m, soak.EvFence, func() []byte {
			a.fences.Add(1)
			return nil
		})
	}
}

func (a *app) start() {
	if !a.started.CompareAndSwap(false, true) {
		return
	}
	a.startedAt = time.Now()
	a.loops.Add(2)
	go a.broadcastLoop()
	go a.floodLoop()
	go a.sampleLoop()
}

func (a *app) stop() {
	select {
	case <-a.stopLoops:
	default:
		close(a.stopLoops)
	}
	a.loops.Wait()
}

func (a *app) broadcastLoop() {
	defer a.loops.Done()
	t := time.NewTicker(a.opts.broadcastEvery)
	defer t.Stop()
	var seq uint64
	var b []byte
	for {
		select {
		case <-a.stopLoops:
			return
		case <-t.C:
		}
		seq++
		b = strconv.AppendUint(b[:0], seq, 10)
		b = append(b, '|')
		b = soak.AppendPad(b, soak.SenderBroadcast, seq, int(seq%64))
		a.liveMu.Lock()
		if a.ws.RoomLen(soak.AllRoom) != len(a.live) {
			a.unsound.Add(1)
		}
		a.ws.To(soak.AllRoom).EmitRaw(soak.EvBroadcast, wsevents.KindText, b)
		for m := range a.live {
			m.expected.Add(1)
		}
		a.expected.Add(uint64(len(a.live)))
		a.liveMu.Unlock()
		a.broadcasts.Add(1)
	}
}

// floodLoop sends a burst to the flood room soon after the start and then
// every floodEvery: more messages in a short time than a connection's
// queue holds, so paused readers lose some to the policy.
func (a *app) floodLoop() {
	defer a.loops.Done()
	r := a.rooms[soak.FloodRoom]
	t := time.NewTimer(time.Second)
	defer t.Stop()
	var seq uint64
	var b []byte
	for {
		select {
		case <-a.stopLoops:
			return
		case <-t.C:
		}
		for i := range a.opts.floodBurst {
			if i > 0 && i%25 == 0 {
				// Paced, so that readers that keep reading keep up and
				// the drops fall on the paused ones.
				time.Sleep(20 * time.Millisecond)
			}
			seq++
			b = strconv.AppendUint(b[:0], seq, 10)
			b = append(b, '|')
			b = soak.AppendPad(b, soak.SenderFlood, seq, a.opts.floodSize)
			r.mu.Lock()
			a.ws.To(soak.FloodRoom).EmitRaw(soak.EvFlood, wsevents.KindText, b)
			for m := range r.members {
				m.expected.Add(1)
			}
			a.expected.Add(uint64(len(r.members)))
			r.mu.Unlock()
			a.flood.Add(1)
		}
		t.Reset(a.opts.floodEvery)
	}
}

func (a *app) sampleLoop() {
	t := time.NewTicker(a.opts.sampleEvery)
	defer t.Stop()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	for {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		metrics.Read(live)
		s := soak.MemSample{
			T:          time.Since(a.startedAt).Seconds(),
			RSS:        rss(),
			HeapInuse:  ms.HeapInuse,
			HeapLive:   live[0].Value.Uint64(),
			Goroutines: runtime.NumGoroutine(),
			Conns:      a.ws.Len(),
		}
		a.samplesMu.Lock()
		a.samples = append(a.samples, s)
		a.samplesMu.Unlock()
		<-t.C
	}
}

// rss is the resident set size of this process, from /proc (0 elsewhere).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func (a *app) report() soak.ServerReport {
	a.liveMu.Lock()
	all := make([]*member, 0, len(a.all))
	for m := range a.all {
		all = append(all, m)
	}
	retired := append([]soak.ConnCount(nil), a.retired...)
	a.liveMu.Unlock()
	rep := soak.ServerReport{
		Pubs:        a.pubs.Load(),
		Broadcasts:  a.broadcasts.Load(),
		FloodMsgs:   a.flood.Load(),
		Fences:      a.fences.Load(),
		Joins:       a.joins.Load(),
		Leaves:      a.leaves.Load(),
		JoinErrors:  a.joinErrors.Load() + a.badPubs.Load(),
		Expected:    a.expected.Load(),
		HookCalls:   a.hookCalls.Load(),
		Disconnects: a.disconnects.Load(),
		Goodbyes:    a.goodbyes.Load(),
		CleanLeaves: a.cleanLeaves.Load(),
		Unsound:     a.unsound.Load(),
		FenceErrors: a.fenceErrors.Load(),
		Stats:       a.ws.Stats(),
	}
	for _, m := range all {
		rep.Conns = append(rep.Conns, soak.ConnCount{Idx: m.idx, Gen: m.gen, Expected: m.expected.Load(), Dropped: m.c.Dropped(), Left: m.left.Load()})
	}
	rep.Conns = append(rep.Conns, retired...)
	a.samplesMu.Lock()
	rep.Samples = append(rep.Samples, a.samples...)
	a.samplesMu.Unlock()
	return rep
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ws", a.ws)
	mux.HandleFunc("POST /control/start", func(w http.ResponseWriter, r *http.Request) {
		a.start()
		writeJSON(w, map[string]any{"connections": a.ws.Len()})
	})
	mux.HandleFunc("POST /control/stop", func(w http.ResponseWriter, r *http.Request) {
		a.stop()
		writeJSON(w, map[string]any{"broadcasts": a.broadcasts.Load(), "flood": a.flood.Load()})
	})
	mux.HandleFunc("GET /control/status", func(w http.ResponseWriter, r *http.Request) {
		a.liveMu.Lock()
		live := len(a.live)
		a.liveMu.Unlock()
		fenced := false
		select {
		case <-a.fenced:
			fenced = true
		default:
		}
		writeJSON(w, map[string]any{
			"connections": a.ws.Len(), "live": live, "dones": a.dones.Load(),
			"goodbyes": a.goodbyes.Load(), "clean_leaves": a.cleanLeaves.Load(),
			"fenced": fenced, "stats": a.ws.Stats(),
		})
	})
	mux.HandleFunc("GET /control/report", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-a.fenced:
		case <-r.Context().Done():
			return
		}
		writeJSON(w, a.report())
	})
	return mux
}

// sndbufListener sets a fixed send buffer on each accepted socket, as a
// server with many connections may: the kernel then holds a bounded amount
// for a reader that stalls, and the rest backs up into the connection's
// queue, where the slow-consumer policy sees it.
type sndbufListener struct {
	net.Listener
	size int
}

func (l sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok && l.size > 0 {
		tc.SetWriteBuffer(l.size)
	}
	return c, err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func main() {
	var o options
	addr := flag.String("addr", "127.0.0.1:0", "listen `address`")
	flag.IntVar(&o.rooms, "rooms", 50, "number of rooms")
	flag.IntVar(&o.queue, "queue", 128, "Config.MaxQueuedMessages")
	flag.DurationVar(&o.broadcastEvery, "broadcast-every", time.Second, "period of server broadcasts")
	flag.DurationVar(&o.floodEvery, "flood-every", 5*time.Second, "period of flood bursts")
	flag.IntVar(&o.floodBurst, "flood-burst", 500, "messages per flood burst")
	flag.IntVar(&o.floodSize, "flood-size", 512, "padding bytes per flood message")
	flag.DurationVar(&o.sampleEvery, "sample-every", time.Second, "period of memory samples")
	flag.IntVar(&o.sndbuf, "sndbuf", 32<<10, "socket send buffer of each connection (0: the system's autotuning)")
	flag.Parse()

	if n, err := soak.RaiseOpenFiles(); err != nil {
		log.Fatalf("soakserver: raising the open files limit: %v", err)
	} else {
		fmt.Fprintf(os.Stderr, "soakserver: open files limit %d\n", n)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a := newApp(o, logger)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	ln = sndbufListener{ln, o.sndbuf}
	hs := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	eof := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case err := <-served:
		log.Fatal(err)
	case <-ctx.Done():
	case <-eof:
	}
	a.stop()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = a.ws.Shutdown(sctx)
	hs.Shutdown(sctx)
	st := a.ws.Stats()
	fmt.Printf("shutdown err=%v connections=%d accepted=%d refused=%d dropped=%d panics=%d\n",
		err, st.Connections, st.Accepted, st.Refused, st.Dropped, st.Panics)
	if err != nil {
		os.Exit(1)
	}
}
