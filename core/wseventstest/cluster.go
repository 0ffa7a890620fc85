package wseventstest

import (
	"bufio"
	"context"
	"errors"
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
	wsevents "github.com/wsevents/wsevents/core"
)

// Cluster describes a Broker to RunCluster. Every function receives a
// namespace unique to the case (a subject or channel prefix), so cases do
// not hear each other on a shared broker.
type Cluster struct {
	// Broker returns a new Broker for one node: one connection to the
	// shared broker, in namespace.
	Broker func(t testing.TB, namespace string) wsevents.Broker

	// Subscriptions returns the number of subscriptions the broker itself
	// (not the nodes) counts on the subject or channel of a topic ("all",
	// "room.NAME").
	Subscriptions func(t testing.TB, namespace, topic string) int

	// Stop takes the broker down and Start brings it back on the same
	// address. Without them the restart case is skipped.
	Stop, Start func(t testing.TB)

	// NodeCommand returns a command that runs one node in a process of its
	// own (see ServeClusterNode) in namespace. Without it the multi-process
	// case is skipped.
	NodeCommand func(t testing.TB, namespace string) *exec.Cmd
}

// RunCluster runs the cluster conformance table against a broker, one
// subtest per case: exactly-once delivery of every kind of emit across
// three nodes, one subscription per node per room (with 1,000 clients in
// the room), Ask and ClusterRoomLen across nodes, a broker restart during
// traffic, and three nodes as separate processes.
func RunCluster(t *testing.T, c Cluster) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, c Cluster, ns string)
	}{
		{"exactly-once", testClusterExactlyOnce},
		{"subscription-per-room", testClusterSubscriptionPerRoom},
		{"ask-and-count", testClusterAskAndCount},
		{"restart", testClusterRestart},
		{"multi-process", testClusterProcesses},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := fmt.Sprintf("wsevents-%s-%d", tc.name, time.Now().UnixNano())
			tc.run(t, c, ns)
		})
	}
}

// ClusterApp is what every node of the cluster cases runs. The connection
// ID is the query parameter id, ?rooms=a,b joins rooms at once (then the
// connection gets a "welcome" event with its ID), and these
// events drive the emits: all, bcast and "to" (payload "target|text") emit
// from the connection; sall and sto do the same from the server, as a
// ticker or an HTTP handler would.
func ClusterApp(c wsevents.Connection) {
	if rooms := c.Request().URL.Query().Get("rooms"); rooms != "" {
		for _, r := range strings.Split(rooms, ",") {
			c.Join(r)
		}
	}
	split := func(m wsevents.Message) (string, string) {
		target, text, _ := strings.Cut(string(m.Data), "|")
		return target, text
	}
	c.On("all", func(msg string) { c.To(wsevents.All).Emit("msg", msg) })
	c.On("bcast", func(msg string) { c.To(wsevents.Broadcast).Emit("msg", msg) })
	c.On("to", func(m wsevents.Message) {
		target, text := split(m)
		c.To(target).Emit("msg", text)
	})
	c.On("sall", func(msg string) { c.Server().To(wsevents.All).Emit("msg", msg) })
	c.On("sto", func(m wsevents.Message) {
		target, text := split(m)
		c.Server().To(target).Emit("msg", text)
	})
	c.Emit("welcome", c.ID()) // registered, rooms joined: the client may start
}

// newClusterServer is a node of the in-process cases.
func newClusterServer(b wsevents.Broker, node string, onStatus func(wsevents.BrokerStatus)) *wsevents.Server {
	s := wsevents.New(wsevents.Config{
		Broker:         b,
		NodeID:         node,
		IDGenerator:    func(r *http.Request) string { return r.URL.Query().Get("id") },
		OnBrokerStatus: onStatus,
	})
	s.OnConnection(ClusterApp)
	return s
}

// ServeClusterNode runs one node of the multi-process case: a Server with
// ClusterApp and broker b on a loopback port, announced on stdout as
// "listening ADDR", until standard input closes (the test ended). Call it
// from the TestMain of the broker's tests, in the child process that
// NodeCommand starts.
func ServeClusterNode(b wsevents.Broker, node string) error {
	s := newClusterServer(b, node, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: timeout}
	go hs.Serve(ln)
	fmt.Printf("listening %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err = s.Shutdown(ctx)
	hs.Close()
	return err
}

// startClusterNodes serves n in-process nodes and returns their ws:// URLs.
func startClusterNodes(t *testing.T, c Cluster, ns string, n int) ([]*wsevents.Server, []string) {
	t.Helper()
	return startClusterNodesHook(t, c, ns, n, nil)
}

func startClusterNodesHook(t *testing.T, c Cluster, ns string, n int, onStatus func(int, wsevents.BrokerStatus)) ([]*wsevents.Server, []string) {
	t.Helper()
	before := coreGoroutines()
	t.Cleanup(func() {
		// Registered first, so it runs after every Shutdown.
		if err := waitCoreGoroutines(before); err != nil {
			t.Error(err)
		}
	})
	servers := make([]*wsevents.Server, n)
	urls := make([]string, n)
	for i := range servers {
		var hook func(wsevents.BrokerStatus)
		if onStatus != nil {
			hook = func(st wsevents.BrokerStatus) { onStatus(i, st) }
		}
		s := newClusterServer(c.Broker(t, ns), fmt.Sprintf("node%d", i), hook)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: s, ReadHeaderTimeout: timeout}
		go hs.Serve(ln)
		servers[i], urls[i] = s, "ws://"+ln.Addr().String()+"/"
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			hs.Close()
		})
	}
	return servers, urls
}

// inbox is a gorilla client that collects every message on a goroutine of
// its own, so the test can read many clients at once.
type inbox struct {
	id   string
	conn *websocket.Conn
	mu   sync.Mutex
	msgs []Message
	done chan struct{}
}

func dialInbox(t testing.TB, url, id, rooms string) *inbox {
	t.Helper()
	conn, _, err := handshake(url+"?id="+id+"&rooms="+rooms, nil, wsevents.Subprotocol)
	if err != nil {
		t.Fatalf("dial %s as %s: %v", url, id, err)
	}
	in := &inbox{id: id, conn: conn, done: make(chan struct{})}
	go func() {
		defer close(in.done)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			m, err := Decode(data)
			if err != nil {
				continue
			}
			in.mu.Lock()
			in.msgs = append(in.msgs, m)
			in.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-in.done
	})
	waitFor(t, id+"'s welcome", func() bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		return len(in.msgs) > 0
	})
	in.mu.Lock()
	first := in.msgs[0]
	in.mu.Unlock()
	if m := first; m.Name != "welcome" || string(m.Payload) != id {
		t.Fatalf("%s: first message %v, want the welcome", id, m)
	}
	return in
}

func (in *inbox) emit(t testing.TB, event, text string) {
	t.Helper()
	data, _ := Event(event, wsevents.KindText, text).Encode()
	in.conn.SetWriteDeadline(time.Now().Add(timeout))
	if err := in.conn.WriteMessage(websocket.TextMessage, data); err != nil {
		t.Fatalf("%s: send: %v", in.id, err)
	}
}

// texts returns the payloads of the "msg" events received so far, sorted.
func (in *inbox) texts() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, m := range in.msgs {
		if m.Type == 'e' && m.Name == "msg" {
			out = append(out, string(m.Payload))
		}
	}
	sort.Strings(out)
	return out
}

// expectExactly waits until every inbox holds as many messages as want
// says, waits a little more for duplicates, and compares.
func expectExactly(t *testing.T, inboxes []*inbox, want map[string][]string) {
	t.Helper()
	waitFor(t, "every message to arrive", func() bool {
		for _, in := range inboxes {
			if len(in.texts()) < len(want[in.id]) {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
	total := 0
	for _, in := range inboxes {
		got, w := in.texts(), slices.Clone(want[in.id])
		sort.Strings(w)
		if !slices.Equal(got, w) {
			t.Errorf("%s received %v, want each of %v exactly once", in.id, got, w)
		}
		total += len(got)
	}
	t.Logf("%d clients received %d messages, each exactly once", len(inboxes), total)
}

// exactlyOnce drives the scenario of the exactly-once cases against three
// nodes: on node i, client ci0 is in room r and ci1 is not. Every node
// emits every kind of message, from a connection and from the server.
func exactlyOnce(t *testing.T, urls []string, subscribed func(topic string) int) {
	t.Helper()
	var inboxes []*inbox
	for i, url := range urls {
		inboxes = append(inboxes, dialInbox(t, url, fmt.Sprintf("c%d0", i), "r"), dialInbox(t, url, fmt.Sprintf("c%d1", i), ""))
	}
	// Room q has its only member on node 0: emits to it from other nodes
	// cross on "all" and node 0 delivers them.
	lone := dialInbox(t, urls[0], "q00", "q")
	inboxes = append(inboxes, lone)
	waitFor(t, "every node subscribed to all and to room r, once, and node 0 to room q", func() bool {
		return subscribed("all") == len(urls) && subscribed("room.r") == len(urls) && subscribed("room.q") == 1
	})
	ids := make([]string, len(inboxes))
	for i, in := range inboxes {
		ids[i] = in.id
	}
	members := func(id string) bool { return strings.HasSuffix(id, "0") && id != lone.id }
	want := make(map[string][]string)
	add := func(text string, to func(id string) bool) {
		for _, id := range ids {
			if to(id) {
				want[id] = append(want[id], text)
			}
		}
	}
	n := len(urls)
	for i := range urls {
		member, other := inboxes[2*i], inboxes[2*i+1]
		next := fmt.Sprintf("c%d1", (i+1)%n)
		member.emit(t, "bcast", fmt.Sprintf("B%d", i))
		add(fmt.Sprintf("B%d", i), func(id string) bool { return id != member.id })
		member.emit(t, "to", fmt.Sprintf("r|R%d", i))
		add(fmt.Sprintf("R%d", i), func(id string) bool { return members(id) && id != member.id })
		member.emit(t, "to", fmt.Sprintf("%s|D%d", next, i))
		add(fmt.Sprintf("D%d", i), func(id string) bool { return id == next })
		other.emit(t, "all", fmt.Sprintf("L%d", i))
		add(fmt.Sprintf("L%d", i), func(string) bool { return true })
		other.emit(t, "sall", fmt.Sprintf("A%d", i))
		add(fmt.Sprintf("A%d", i), func(string) bool { return true })
		other.emit(t, "sto", fmt.Sprintf("r|S%d", i))
		add(fmt.Sprintf("S%d", i), members)
		// A room that only another node has: the server's emit and a
		// connection's emit cross on "all".
		if i > 0 {
			other.emit(t, "sto", fmt.Sprintf("q|T%d", i))
			add(fmt.Sprintf("T%d", i), func(id string) bool { return id == lone.id })
			member.emit(t, "to", fmt.Sprintf("q|U%d", i))
			add(fmt.Sprintf("U%d", i), func(id string) bool { return id == lone.id })
		}
	}
	expectExactly(t, inboxes, want)
}

func testClusterExactlyOnce(t *testing.T, c Cluster, ns string) {
	servers, urls := startClusterNodes(t, c, ns, 3)
	exactlyOnce(t, urls, func(topic string) int { return c.Subscriptions(t, ns, topic) })
	for i, s := range servers {
		st := s.Stats().Broker
		if !st.Up || st.Lost != 0 || st.Undecodable != 0 {
			t.Errorf("node %d: %+v", i, st)
		}
	}
}

func testClusterSubscriptionPerRoom(t *testing.T, c Cluster, ns string) {
	const members = 1000
	servers, urls := startClusterNodes(t, c, ns, 2)
	var conns []*websocket.Conn
	for i := 0; i < members; i++ {
		// Clients that never read: nothing is emitted to them.
		conn, _, err := handshake(fmt.Sprintf("%s?id=m%d&rooms=big", urls[0], i), nil, wsevents.Subprotocol)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, conn)
	}
	t.Cleanup(func() {
		for _, conn := range conns {
			conn.Close()
		}
	})
	waitFor(t, "1,000 members", func() bool { return servers[0].RoomLen("big") == members })
	waitFor(t, "one subscription for the room", func() bool { return c.Subscriptions(t, ns, "room.big") == 1 })
	if n := c.Subscriptions(t, ns, "room.big"); n != 1 {
		t.Fatalf("the broker counts %d subscriptions for a room of %d members on one node, want 1", n, members)
	}
	if st := servers[0].Stats().Broker; st.Subscriptions != 3 {
		t.Errorf("node 0 holds %d subscriptions, want 3 (all, its own, the room)", st.Subscriptions)
	}
	t.Logf("%d members on one node: the broker counts %d subscription for the room", members, c.Subscriptions(t, ns, "room.big"))

	dialInbox(t, urls[1], "far", "big")
	waitFor(t, "a second node's subscription", func() bool { return c.Subscriptions(t, ns, "room.big") == 2 })
	for _, conn := range conns {
		conn.Close()
	}
	waitFor(t, "the members to leave", func() bool { return servers[0].RoomLen("big") == 0 })
	waitFor(t, "node 0 to release its subscription", func() bool { return c.Subscriptions(t, ns, "room.big") == 1 })
}

func testClusterAskAndCount(t *testing.T, c Cluster, ns string) {
	servers, urls := startClusterNodes(t, c, ns, 3)
	for i, url := range urls {
		for k := 0; k <= i; k++ {
			dialInbox(t, url, fmt.Sprintf("c%d%d", i, k), "r")
		}
	}
	waitFor(t, "six members", func() bool {
		return servers[0].RoomLen("r")+servers[1].RoomLen("r")+servers[2].RoomLen("r") == 6
	})
	waitFor(t, "nodes to know each other", func() bool {
		for _, s := range servers {
			if len(s.ClusterNodes()) != len(servers)-1 {
				return false
			}
		}
		return true
	})
	for i, s := range servers {
		if n, err := s.ClusterRoomLen(context.Background(), "r"); n != 6 || err != nil {
			t.Errorf("node %d: ClusterRoomLen = %d, %v; want 6", i, n, err)
		}
	}

	// A client of node 2 that answers asks, asked from node 0.
	conn, _, err := handshake(urls[2]+"?id=answerer", nil, wsevents.Subprotocol)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			m, err := Decode(data)
			if err != nil || m.Type != 'a' {
				continue
			}
			r := Message{Type: 'r', Kind: wsevents.KindJSON, ID: m.ID, Payload: []byte(`{"echo":` + string(m.Payload) + `}`)}
			if string(m.Payload) == "fail" {
				r = Message{Type: 'x', Kind: wsevents.KindText, ID: m.ID, Payload: []byte("refused")}
			}
			out, _ := r.Encode()
			conn.WriteMessage(websocket.TextMessage, out)
		}
	}()
	waitFor(t, "the answerer", func() bool { _, ok := servers[2].Get("answerer"); return ok })
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, err := servers[0].Ask(ctx, "answerer", "q", 41)
	if err != nil || m.String() != `{"echo":41}` || m.Kind != wsevents.KindJSON {
		t.Fatalf("Ask across nodes = %q (%v), %v", m.Data, m.Kind, err)
	}
	_, err = servers[1].Ask(ctx, "answerer", "q", "fail")
	var re *wsevents.RemoteError
	if !errors.As(err, &re) || re.Message != "refused" || re.Event != "q" {
		t.Fatalf("Ask across nodes answered with an error = %v", err)
	}
}

func testClusterRestart(t *testing.T, c Cluster, ns string) {
	if c.Stop == nil || c.Start == nil {
		t.Skip("the harness cannot restart the broker")
	}
	var statusMu sync.Mutex
	var statuses []wsevents.BrokerStatus // node a's
	servers, urls := startClusterNodesHook(t, c, ns, 2, func(i int, st wsevents.BrokerStatus) {
		if i == 0 {
			statusMu.Lock()
			statuses = append(statuses, st)
			statusMu.Unlock()
		}
	})
	a, b := servers[0], servers[1]
	a1 := dialInbox(t, urls[0], "a1", "r")
	a2 := dialInbox(t, urls[0], "a2", "r")
	b1 := dialInbox(t, urls[1], "b1", "r")
	waitFor(t, "subscriptions", func() bool { return c.Subscriptions(t, ns, "room.r") == 2 })

	// Local traffic on node a runs through the whole test: a ticker-like
	// emit to one of its connections every few milliseconds.
	stop := make(chan struct{})
	ticked := make(chan int, 1)
	go func() {
		n := 0
		defer func() { ticked <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if a.To("a2").Emit("tick", n) == nil {
				n++
			}
		}
	}()

	emit := func(phase string, count int) {
		for k := 0; k < count; k++ {
			a.To("r").Emit("msg", fmt.Sprintf("%s-%03d", phase, k))
		}
	}
	const n = 50
	emit("before", n)
	waitFor(t, "the first phase everywhere", func() bool { return len(b1.texts()) == n && len(a1.texts()) == n })

	c.Stop(t)
	waitFor(t, "both nodes to see the outage", func() bool { return !a.Stats().Broker.Up && !b.Stats().Broker.Up })
	lostBefore := a.Stats().Broker.Lost
	emit("during", n)
	b.To("b1").Emit("msg", "local-on-b") // b keeps serving its own clients
	waitFor(t, "local delivery during the outage", func() bool {
		return len(a1.texts()) == 2*n && len(a2.texts()) == 2*n && len(b1.texts()) == n+1
	})
	if lost := a.Stats().Broker.Lost - lostBefore; lost != n {
		t.Errorf("node a counts %d messages lost during the outage, want %d", lost, n)
	}
	// A room first joined on b while the broker is down: its subscription
	// is taken once the broker is back.
	b2 := dialInbox(t, urls[1], "b2", "late")
	waitFor(t, "b2 in room late during the outage", func() bool { return b.RoomLen("late") == 1 })

	c.Start(t)
	waitFor(t, "both nodes to recover", func() bool { return a.Stats().Broker.Up && b.Stats().Broker.Up })
	waitFor(t, "the room subscriptions to be restored", func() bool { return c.Subscriptions(t, ns, "room.r") == 2 })
	waitFor(t, "the room joined during the outage to be subscribed", func() bool { return c.Subscriptions(t, ns, "room.late") == 1 })
	lostAfterOutage := a.Stats().Broker.Lost
	a.To("late").Emit("msg", "late-after")
	waitFor(t, "the emit to the room joined during the outage", func() bool {
		got := b2.texts()
		return len(got) == 1 && got[0] == "late-after"
	})
	emit("after", n)
	waitFor(t, "the last phase everywhere", func() bool { return len(b1.texts()) == 2*n+1 && len(a1.texts()) == 3*n })
	close(stop)
	ticks := <-ticked
	waitFor(t, "every tick", func() bool {
		a2.mu.Lock()
		defer a2.mu.Unlock()
		got := 0
		for _, m := range a2.msgs {
			if m.Name == "tick" {
				got++
			}
		}
		return got == ticks
	})
	time.Sleep(200 * time.Millisecond)
	for _, in := range []*inbox{a1, a2} {
		if got := len(in.texts()); got != 3*n {
			t.Errorf("%s received %d room messages, want %d", in.id, got, 3*n)
		}
	}
	got := b1.texts()
	for _, m := range got {
		if strings.HasPrefix(m, "during-") {
			t.Errorf("b1 received %q, published while the broker was down", m)
		}
	}
	if len(got) != 2*n+1 {
		t.Errorf("b1 received %d messages, want %d", len(got), 2*n+1)
	}
	st := a.Stats().Broker
	if st.Lost != lostAfterOutage {
		t.Errorf("node a lost %d messages after the recovery", st.Lost-lostAfterOutage)
	}
	if st.Outages != 1 {
		t.Errorf("node a counts %d outages, want 1", st.Outages)
	}
	statusMu.Lock()
	defer statusMu.Unlock()
	if len(statuses) != 2 || statuses[0].Up || !errors.Is(statuses[0].Err, wsevents.ErrBrokerDown) ||
		!statuses[1].Up || statuses[1].Lost != n {
		t.Errorf("OnBrokerStatus reports on node a: %+v; want down, then up with %d lost", statuses, n)
	}
	t.Logf("broker restart: local traffic went on (%d ticks and %d room messages on node a); node a counted %d messages that could not cross during the outage and %d after it",
		ticks, 3*n, lostAfterOutage-lostBefore, st.Lost-lostAfterOutage)
}

func testClusterProcesses(t *testing.T, c Cluster, ns string) {
	if c.NodeCommand == nil {
		t.Skip("the harness cannot start node processes")
	}
	var urls []string
	for i := 0; i < 3; i++ {
		cmd := c.NodeCommand(t, ns)
		cmd.Env = append(cmd.Env, fmt.Sprintf("WSEVENTS_NODE_ID=proc%d", i))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stdin.Close() // the node shuts down
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("node process %d: %v", i, err)
				}
			case <-time.After(2 * timeout):
				cmd.Process.Kill()
				t.Errorf("node process %d did not stop", i)
				<-done
			}
		})
		addr := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if a, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
					addr <- a
				}
			}
			io.Copy(io.Discard, stdout)
		}()
		select {
		case a := <-addr:
			urls = append(urls, "ws://"+a+"/")
		case <-time.After(4 * timeout): // a test binary starting on a busy machine
			t.Fatalf("node process %d did not start listening", i)
		}
	}
	exactlyOnce(t, urls, func(topic string) int { return c.Subscriptions(t, ns, topic) })
}
