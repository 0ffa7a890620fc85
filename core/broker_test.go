package wsevents

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
)

// node is one Server of an in-process cluster on its own listener.
type node struct {
	s   *Server
	url string
}

// clusterApp is what each node of the cluster tests runs: a connection's ID
// comes from ?id=, and events let the test drive every kind of emit.
func clusterApp(c Connection) {
	c.On("join", func(room string) { c.Join(room) })
	c.On("leave", func(room string) { c.Leave(room) })
	c.On("all", func(msg string) { c.To(All).Emit("msg", msg) })
	c.On("bcast", func(msg string) { c.To(Broadcast).Emit("msg", msg) })
	c.On("to", func(m Message) { // "target|text"
		target, text, _ := strings.Cut(string(m.Data), "|")
		c.To(target).Emit("msg", text)
	})
}

func startNodes(t *testing.T, n int, cfg Config, broker func(i int) Broker) []*node {
	t.Helper()
	nodes := make([]*node, n)
	for i := range nodes {
		c := cfg
		c.Broker = broker(i)
		c.NodeID = fmt.Sprintf("n%d", i)
		c.IDGenerator = func(r *http.Request) string { return r.URL.Query().Get("id") }
		s := New(c)
		s.OnConnection(clusterApp)
		nodes[i] = &node{s: s, url: testServer(t, s)}
	}
	return nodes
}

// inbox collects what one raw client receives, on a goroutine of its own.
type inbox struct {
	mu   sync.Mutex
	msgs []string
	cl   *client
}

func connectInbox(t *testing.T, url, id string) *inbox {
	t.Helper()
	in := &inbox{cl: dialEvents(t, url+"/?id="+id)}
	go func() {
		for {
			data, _, err := wsutil.ReadServerData(in.cl.conn)
			if err != nil {
				return
			}
			in.mu.Lock()
			in.msgs = append(in.msgs, string(data))
			in.mu.Unlock()
		}
	}()
	return in
}

func (in *inbox) snapshot() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.msgs...)
}

// waitNodes waits until every node knows every other one.
func waitNodes(t *testing.T, nodes []*node) {
	t.Helper()
	waitFor(t, "nodes to know each other", func() bool {
		for _, n := range nodes {
			if len(n.s.ClusterNodes()) != len(nodes)-1 {
				return false
			}
		}
		return true
	})
}

func TestClusterMemoryExactlyOnce(t *testing.T) {
	hub := NewMemoryBroker()
	nodes := startNodes(t, 3, Config{}, func(int) Broker { return hub.Node() })
	// Two clients per node: c<node><k>; the first of each node joins "r".
	var all []*inbox
	ids := map[*inbox]string{}
	for i, n := range nodes {
		for k := 0; k < 2; k++ {
			id := fmt.Sprintf("c%d%d", i, k)
			in := connectInbox(t, n.url, id)
			all = append(all, in)
			ids[in] = id
			if k == 0 {
				in.cl.send("et:join\nr")
			}
		}
	}
	waitFor(t, "connections", func() bool { return nodes[0].s.Len() == 2 && nodes[1].s.Len() == 2 && nodes[2].s.Len() == 2 })
	waitFor(t, "one room subscription per node", func() bool { return hub.Subscribers("room.r") == 3 })
	waitNodes(t, nodes)
	if n, err := nodes[0].s.ClusterRoomLen(context.Background(), "r"); err != nil || n != 3 {
		t.Fatalf("ClusterRoomLen = %d, %v; want 3", n, err)
	}

	sender := all[0] // c00, on node 0, in room r
	sender.cl.send("et:all\nA")
	sender.cl.send("et:bcast\nB")
	sender.cl.send("et:to\nr|R")
	sender.cl.send("et:to\nc21|D")      // a connection on node 2
	nodes[1].s.To("r").Emit("msg", "S") // server-side, node 1 has a member
	nodes[2].s.To("c01").Emit("msg", "T")

	want := map[string][]string{}
	for _, in := range all {
		id := ids[in]
		w := []string{"A"}
		if id != "c00" {
			w = append(w, "B")
		}
		if strings.HasSuffix(id, "0") {
			w = append(w, "S")
			if id != "c00" {
				w = append(w, "R")
			}
		}
		if id == "c21" {
			w = append(w, "D")
		}
		if id == "c01" {
			w = append(w, "T")
		}
		sort.Strings(w)
		want[id] = w
	}
	got := func(in *inbox) []string {
		var w []string
		for _, m := range in.snapshot() {
			w = append(w, strings.TrimPrefix(m, "et:msg\n"))
		}
		sort.Strings(w)
		return w
	}
	waitFor(t, "every message", func() bool {
		for _, in := range all {
			if len(got(in)) < len(want[ids[in]]) {
				return false
			}
		}
		return true
	})
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up
	for _, in := range all {
		if g, w := got(in), want[ids[in]]; strings.Join(g, ",") != strings.Join(w, ",") {
			t.Errorf("%s got %v, want %v", ids[in], g, w)
		}
	}
	st := nodes[0].s.Stats().Broker
	if !st.Up || st.Nodes != 2 || st.Lost != 0 || st.Subscriptions != 3 {
		t.Errorf("node 0 broker stats: %+v", st)
	}
}

func TestClusterSubscriptionFollowsRoom(t *testing.T) {
	hub := NewMemoryBroker()
	nodes := startNodes(t, 1, Config{}, func(int) Broker { return hub.Node() })
	a := connectInbox(t, nodes[0].url, "a")
	b := connectInbox(t, nodes[0].url, "b")
	a.cl.send("et:join\nlobby")
	b.cl.send("et:join\nlobby")
	waitFor(t, "two members", func() bool { return nodes[0].s.RoomLen("lobby") == 2 })
	waitFor(t, "subscribed once", func() bool { return hub.Subscribers("room.lobby") == 1 })
	a.cl.send("et:leave\nlobby")
	waitFor(t, "one member", func() bool { return nodes[0].s.RoomLen("lobby") == 1 })
	if n := hub.Subscribers("room.lobby"); n != 1 {
		t.Fatalf("subscribers after one of two left: %d", n)
	}
	b.cl.send("et:leave\nlobby")
	waitFor(t, "released with the last member", func() bool { return hub.Subscribers("room.lobby") == 0 })
	if st := nodes[0].s.Stats().Broker; st.Subscriptions != 2 {
		t.Fatalf("subscriptions = %d, want 2 (all and the node's own)", st.Subscriptions)
	}
}

func TestClusterAskRemote(t *testing.T) {
	hub := NewMemoryBroker()
	nodes := startNodes(t, 2, Config{}, func(int) Broker { return hub.Node() })
	peer := dialEvents(t, nodes[1].url+"/?id=far")
	waitFor(t, "connection", func() bool { return nodes[1].s.Len() == 1 })
	waitNodes(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	type res struct {
		m   Message
		err error
	}
	ask := func(data any) chan res {
		ch := make(chan res, 1)
		go func() {
			m, err := nodes[0].s.Ask(ctx, "far", "sum", data)
			ch <- res{m, err}
		}()
		return ch
	}
	ch := ask([]int{1, 2})
	if _, got := peer.read(); got != "aj1:sum\n[1,2]" {
		t.Fatalf("the connection got %q", got)
	}
	peer.send("rj1:\n3")
	if r := <-ch; r.err != nil || r.m.String() != "3" || r.m.Kind != KindJSON || r.m.Event != "sum" {
		t.Fatalf("Ask = %+v, %v", r.m, r.err)
	}
	ch = ask("x")
	if _, got := peer.read(); got != "at2:sum\nx" {
		t.Fatalf("the connection got %q", got)
	}
	peer.send("xt2:\nno sums today")
	var re *RemoteError
	if r := <-ch; !errors.As(r.err, &re) || re.Message != "no sums today" || re.Event != "sum" {
		t.Fatalf("Ask error = %v", r.err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := nodes[0].s.Ask(short, "nobody", "sum", 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ask to nobody = %v", err)
	}
}

func TestClusterRoomLenMissingNode(t *testing.T) {
	hub := NewMemoryBroker()
	nodes := startNodes(t, 2, Config{}, func(int) Broker { return hub.Node() })
	connectInbox(t, nodes[0].url, "a").cl.send("et:join\nr")
	connectInbox(t, nodes[1].url, "b").cl.send("et:join\nr")
	waitFor(t, "members", func() bool { return nodes[0].s.RoomLen("r") == 1 && nodes[1].s.RoomLen("r") == 1 })
	waitNodes(t, nodes)
	if n, err := nodes[1].s.ClusterRoomLen(context.Background(), "r"); n != 2 || err != nil {
		t.Fatalf("ClusterRoomLen = %d, %v", n, err)
	}
	// A node that vanished without goodbye still counts as known: the
	// query says who did not answer instead of guessing.
	nodes[0].s.cl.b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	n, err := nodes[1].s.ClusterRoomLen(ctx, "r")
	if n != 1 || !errors.Is(err, ErrClusterIncomplete) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ClusterRoomLen with a silent node = %d, %v", n, err)
	}
}

func TestClusterShutdownSaysGoodbye(t *testing.T) {
	hub := NewMemoryBroker()
	nodes := startNodes(t, 2, Config{}, func(int) Broker { return hub.Node() })
	connectInbox(t, nodes[0].url, "a")
	connectInbox(t, nodes[1].url, "b")
	waitNodes(t, nodes)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nodes[0].s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "goodbye", func() bool { return len(nodes[1].s.ClusterNodes()) == 0 })
	if hub.Subscribers(topicAll) != 1 {
		t.Fatalf("the closed node still subscribes")
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	body := []byte("et:chat\nhello")
	p := appendEnvelope(nil, envBroadcast, "node-1", "room", "conn", 7, 1234, body)
	e, ok := parseEnvelope(p)
	if !ok || e.kind != envBroadcast || string(e.origin) != "node-1" || string(e.target) != "room" ||
		string(e.exclude) != "conn" || e.req != 7 || e.deadline != 1234 || string(e.body) != string(body) {
		t.Fatalf("round trip: %+v %v", e, ok)
	}
	for i := 0; i < len(p)-len(body); i++ {
		if _, ok := parseEnvelope(p[:i]); ok && i < 9 {
			t.Fatalf("truncated envelope of %d bytes parsed", i)
		}
	}
	if _, ok := parseEnvelope(append([]byte{2}, p[1:]...)); ok {
		t.Fatal("envelope of another version parsed")
	}
}

// Without a Broker nothing of the cluster exists and the Server behaves as
// it always did.
func TestClusterNoBrokerNoCost(t *testing.T) {
	s := New(Config{})
	if s.cl != nil || s.Stats().Broker != (BrokerStats{}) {
		t.Fatal("a Server without a Broker has cluster state")
	}
	if n, err := s.ClusterRoomLen(context.Background(), "r"); n != 0 || err != nil {
		t.Fatalf("ClusterRoomLen alone = %d, %v", n, err)
	}
	if _, err := s.Ask(context.Background(), "x", "e", 1); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("Ask alone = %v", err)
	}
	if err := s.To("nobody").Emit("e", 1); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("To(nobody) alone = %v", err)
	}
}

// gatedBroker is a MemoryBroker node whose Publish waits for a gate: a
// broker that has stopped answering.
type gatedBroker struct {
	Broker
	gate chan struct{}
}

func (g *gatedBroker) Publish(topic string, data []byte) error {
	<-g.gate
	return g.Broker.Publish(topic, data)
}

func TestClusterEmitsNeverWaitForTheBroker(t *testing.T) {
	hub := NewMemoryBroker()
	gated := &gatedBroker{Broker: hub.Node(), gate: make(chan struct{})}
	s := New(Config{Broker: gated, MaxBrokerQueue: 10})
	defer s.Shutdown(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			s.To(All).Emit("tick", i)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("emits wait for a broker that does not answer")
	}
	// At most one publication is stuck in Publish and ten are queued; the
	// node's own hello may take one of those places.
	if lost := s.Stats().Broker.Lost; lost < 100-11 || lost > 100 {
		t.Fatalf("lost = %d, want the emits past the queue", lost)
	}
	close(gated.gate)
	waitFor(t, "the queue to drain", func() bool {
		st := s.Stats().Broker
		return st.Published+st.Lost >= 100
	})
}

func TestClusterNativeAndBinaryCross(t *testing.T) {
	hub := NewMemoryBroker()
	nodes := startNodes(t, 2, Config{}, func(int) Broker { return hub.Node() })
	native := dial(t, nodes[1].url+"/?id=plain") // no subprotocol: native mode
	events := dialEvents(t, nodes[1].url+"/?id=ev")
	waitFor(t, "connections", func() bool { return nodes[1].s.Len() == 2 })
	connectInbox(t, nodes[0].url, "starter") // starts node 0
	waitNodes(t, nodes)
	nodes[0].s.To(All).EmitMessage("plain text")
	if op, got := native.read(); got != "plain text" || op != 0x1 {
		t.Fatalf("native client got %q (op %v)", got, op)
	}
	if op, got := events.read(); got != "mt:\nplain text" || op != 0x1 {
		t.Fatalf("event client got %q (op %v)", got, op)
	}
	nodes[0].s.To("ev").Emit("blob", []byte{0xff, 0x00})
	if op, got := events.read(); got != "eb:blob\n\xff\x00" || op != 0x2 {
		t.Fatalf("binary event arrived as %q (op %v)", got, op)
	}
}

func TestClusterUndecodableEnvelope(t *testing.T) {
	hub := NewMemoryBroker()
	nodes := startNodes(t, 1, Config{}, func(int) Broker { return hub.Node() })
	connectInbox(t, nodes[0].url, "a")
	waitFor(t, "subscribed", func() bool { return hub.Subscribers(topicAll) == 1 })
	other := hub.Node()
	other.Open(nil)
	other.Publish(topicAll, []byte("not an envelope"))
	other.Publish(topicAll, appendEnvelope(nil, envAll, "x", "", "", 0, 0, []byte("no header")))
	if n := nodes[0].s.Stats().Broker.Undecodable; n != 2 {
		t.Fatalf("undecodable = %d, want 2", n)
	}
}

func TestJoinClusterBeforeAnyClient(t *testing.T) {
	hub := NewMemoryBroker()
	a, b := New(Config{Broker: hub.Node()}), New(Config{Broker: hub.Node()})
	defer a.Shutdown(context.Background())
	defer b.Shutdown(context.Background())
	if st := a.Stats().Broker; st.Up || st.Node == "" {
		t.Fatalf("a node that has not joined: %+v", st)
	}
	a.JoinCluster()
	b.JoinCluster()
	waitFor(t, "the nodes to find each other", func() bool {
		return len(a.ClusterNodes()) == 1 && len(b.ClusterNodes()) == 1
	})
	New(Config{}).JoinCluster() // without a Broker: nothing
}

// batchingBroker is a MemoryBroker node that takes its publications in
// batches (BatchPublisher), held back by gate until the test opens it, and
// fails the second half of the batches from failFrom on.
type batchingBroker struct {
	Broker
	gate     chan struct{}
	mu       sync.Mutex
	sizes    []int
	failFrom int // the batch index from which half of each batch fails; 0: none
}

func (b *batchingBroker) hold() {
	b.mu.Lock()
	b.gate = make(chan struct{})
	b.mu.Unlock()
}

func (b *batchingBroker) release() {
	b.mu.Lock()
	close(b.gate)
	b.mu.Unlock()
}

func (b *batchingBroker) PublishBatch(batch []Publication) (int, error) {
	b.mu.Lock()
	gate := b.gate
	b.mu.Unlock()
	<-gate
	b.mu.Lock()
	b.sizes = append(b.sizes, len(batch))
	fail := b.failFrom > 0 && len(b.sizes) > b.failFrom
	b.mu.Unlock()
	n := len(batch)
	if fail {
		n = len(batch) / 2
	}
	for i, p := range batch[:n] {
		if err := b.Broker.Publish(p.Topic, p.Data); err != nil {
			return i, err
		}
	}
	if fail {
		return n, errors.New("half of this batch failed")
	}
	return n, nil
}

// A BatchPublisher gets what queued up while it was busy in one call, in
// order; what it reports unpublished counts as lost.
func TestClusterBatchPublisher(t *testing.T) {
	hub := NewMemoryBroker()
	batching := &batchingBroker{Broker: hub.Node(), gate: make(chan struct{})}
	nodes := startNodes(t, 2, Config{}, func(i int) Broker {
		if i == 0 {
			return batching
		}
		return hub.Node()
	})
	batching.release()
	for _, n := range nodes {
		n.s.JoinCluster()
	}
	waitNodes(t, nodes)
	far := connectInbox(t, nodes[1].url, "far")
	waitFor(t, "far connected", func() bool { return nodes[1].s.Len() == 1 })

	// Hold the publisher while 200 emits queue up behind it.
	batching.hold()
	s := nodes[0].s
	before := s.Stats().Broker
	s.To(All).Emit("msg", "first") // the publisher takes it and waits at the gate
	time.Sleep(20 * time.Millisecond)
	var want []string
	want = append(want, "et:msg\nfirst")
	for i := 0; i < 200; i++ {
		s.To(All).Emit("msg", strconv.Itoa(i))
		want = append(want, "et:msg\n"+strconv.Itoa(i))
	}
	batching.release()
	waitFor(t, "every emit delivered across", func() bool { return len(far.snapshot()) >= len(want) })
	if got := far.snapshot(); !slices.Equal(got, want) {
		t.Fatalf("far got %d messages, not the %d in order", len(got), len(want))
	}
	batching.mu.Lock()
	sizes := slices.Clone(batching.sizes)
	batching.mu.Unlock()
	if slices.Max(sizes) < 2 || slices.Max(sizes) > MaxPublishBatch {
		t.Fatalf("batch sizes %v: want the queued emits in batches of at most %d", sizes, MaxPublishBatch)
	}
	st := s.Stats().Broker
	if st.Published-before.Published != uint64(len(want)) || st.Lost != before.Lost {
		t.Fatalf("published %d, lost %d; want %d and 0", st.Published-before.Published, st.Lost-before.Lost, len(want))
	}

	// Partial failures: what the broker did not publish is lost, counted.
	batching.mu.Lock()
	batching.failFrom = len(batching.sizes)
	batching.mu.Unlock()
	batching.hold()
	s.To(All).Emit("msg", "held")
	time.Sleep(20 * time.Millisecond)
	for i := 0; i < 99; i++ {
		s.To(All).Emit("msg", "x")
	}
	batching.release()
	waitFor(t, "the 100 publications accounted for", func() bool {
		now := s.Stats().Broker
		return now.Published+now.Lost-st.Published-st.Lost == 100
	})
	if lost := s.Stats().Broker.Lost - st.Lost; lost == 0 || lost >= 100 {
		t.Fatalf("lost %d of 100 with half of each batch failing", lost)
	}
}

// recordingBroker is a MemoryBroker node that keeps a copy of every
// publication that is not node housekeeping (hello, goodbye).
type recordingBroker struct {
	Broker
	mu   sync.Mutex
	sent [][]byte
}

func (b *recordingBroker) Publish(topic string, data []byte) error {
	if e, ok := parseEnvelope(data); ok && e.kind != envHello && e.kind != envBye {
		b.mu.Lock()
		b.sent = append(b.sent, slices.Clone(data))
		b.mu.Unlock()
	}
	return b.Broker.Publish(topic, data)
}

// countingPayload counts its JSON encodings.
type countingPayload struct{ n *atomic.Int64 }

func (p countingPayload) MarshalJSON() ([]byte, error) {
	p.n.Add(1)
	return []byte(`{"price":101.25}`), nil
}

// Encode once: an emit's payload is encoded one time, and the message the
// local clients read is the body that crosses the broker, byte for byte.
func TestClusterEncodeOnce(t *testing.T) {
	hub := NewMemoryBroker()
	rec := &recordingBroker{Broker: hub.Node()}
	nodes := startNodes(t, 2, Config{}, func(i int) Broker {
		if i == 0 {
			return rec
		}
		return hub.Node()
	})
	near := connectInbox(t, nodes[0].url, "near")
	far := connectInbox(t, nodes[1].url, "far")
	waitFor(t, "both connected", func() bool { return nodes[0].s.Len() == 1 && nodes[1].s.Len() == 1 })
	waitNodes(t, nodes)

	var encodings atomic.Int64
	if err := nodes[0].s.To(All).Emit("tick", countingPayload{&encodings}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the tick on both nodes", func() bool { return len(near.snapshot()) == 1 && len(far.snapshot()) == 1 })
	if n := encodings.Load(); n != 1 {
		t.Fatalf("the payload was encoded %d times for one emit to two nodes, want once", n)
	}
	local := near.snapshot()[0]
	if want := "ej:tick\n" + `{"price":101.25}`; local != want {
		t.Fatalf("local client read %q, want %q", local, want)
	}
	if got := far.snapshot()[0]; got != local {
		t.Fatalf("the far client read %q, the near one %q", got, local)
	}
	rec.mu.Lock()
	sent := slices.Clone(rec.sent)
	rec.mu.Unlock()
	if len(sent) != 1 {
		t.Fatalf("%d publications for one emit, want 1", len(sent))
	}
	e, ok := parseEnvelope(sent[0])
	if !ok || string(e.body) != local {
		t.Fatalf("what crossed (%q) is not what the local client read (%q)", e.body, local)
	}
}
