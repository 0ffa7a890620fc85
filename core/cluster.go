package wsevents

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// cluster is a Server's side of the Broker. It exists when Config.Broker
// is set; its goroutines start on first use.
type cluster struct {
	s         *Server
	b         Broker
	node      string
	nodeTopic string

	once    sync.Once
	started atomic.Bool
	closed  atomic.Bool
	up      atomic.Bool
	ctx     context.Context // ends in close: remote asks served here stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	pub    chan Publication
	opened chan struct{} // closed once Open returned
	kick   chan struct{} // wakes the subscription goroutine
	done   chan struct{}
	// dirty lists rooms created or emptied since the subscription goroutine
	// last looked; guarded by s.mu.
	dirty map[string]struct{}
	nsubs atomic.Int64

	published, received, lost, outages, undecodable atomic.Uint64
	lostReported                                    atomic.Uint64

	mu     sync.Mutex
	nodes  map[string]time.Time
	asks   map[uint64]chan askResult
	counts map[uint64]*countRequest
	timer  *time.Timer
	reqID  atomic.Uint64
}

type countRequest struct {
	waiting map[string]bool
	sum     int
	done    chan struct{}
}

func newCluster(s *Server) *cluster {
	cl := &cluster{
		s:         s,
		b:         s.cfg.Broker,
		node:      s.cfg.NodeID,
		nodeTopic: topicNodePfx + s.cfg.NodeID,
		pub:       make(chan Publication, s.cfg.MaxBrokerQueue),
		kick:      make(chan struct{}, 1),
		opened:    make(chan struct{}),
		done:      make(chan struct{}),
		dirty:     make(map[string]struct{}),
		nodes:     make(map[string]time.Time),
		asks:      make(map[uint64]chan askResult),
		counts:    make(map[uint64]*countRequest),
	}
	cl.ctx, cl.cancel = context.WithCancel(context.Background())
	return cl
}

// clusterOn returns the started cluster, or nil without a Broker.
func (s *Server) clusterOn() *cluster {
	cl := s.cl
	if cl == nil {
		return nil
	}
	if !cl.started.Load() {
		cl.start()
	}
	return cl
}

func (cl *cluster) start() {
	cl.once.Do(func() {
		if cl.closed.Load() {
			return
		}
		cl.up.Store(true)
		cl.wg.Add(2)
		go cl.publisher()
		go cl.subscriber()
		cl.started.Store(true)
	})
}

// close ends the node's part in the cluster: what is queued is handed to
// the broker, the other nodes hear goodbye, and the broker is closed.
func (cl *cluster) close() {
	cl.mu.Lock()
	already := cl.closed.Swap(true)
	cl.mu.Unlock()
	if already {
		return
	}
	cl.once.Do(func() {}) // a cluster never started stays so
	cl.cancel()
	if cl.started.Load() {
		cl.mu.Lock()
		if cl.timer != nil {
			cl.timer.Stop()
		}
		cl.mu.Unlock()
		close(cl.done)
		cl.wg.Wait()
		if cl.up.Load() {
			cl.b.Publish(topicAll, appendEnvelope(nil, envBye, cl.node, "", "", 0, 0, nil))
		}
	}
	cl.b.Close()
	cl.mu.Lock()
	asks, counts := cl.asks, cl.counts
	cl.asks, cl.counts = map[uint64]chan askResult{}, map[uint64]*countRequest{}
	cl.mu.Unlock()
	for _, ch := range asks {
		ch <- askResult{err: ErrServerClosed}
	}
	for _, r := range counts {
		close(r.done)
	}
}

// roomChanged is called with s.mu held when a room appears or disappears.
func (cl *cluster) roomChanged(room string) {
	cl.dirty[room] = struct{}{}
	select {
	case cl.kick <- struct{}{}:
	default:
	}
}

// subscriber keeps the node's subscriptions in line with the rooms that
// have local members.
func (cl *cluster) subscriber() {
	defer cl.wg.Done()
	// Open may wait for the broker (a first round trip): here, not in the
	// goroutine of the connection that started the node.
	if err := cl.b.Open(brokerHandler{cl}); err != nil {
		cl.down(err)
	}
	close(cl.opened)
	cl.subscribe(topicAll)
	cl.subscribe(cl.nodeTopic)
	cl.hello("")
	cl.mu.Lock()
	if !cl.closed.Load() {
		cl.timer = time.AfterFunc(heartbeatEvery, cl.heartbeat)
	}
	cl.mu.Unlock()
	subs := make(map[string]bool)
	for {
		select {
		case <-cl.kick:
		case <-cl.done:
			return
		}
		for {
			cl.s.mu.Lock()
			dirty := cl.dirty
			n := len(dirty)
			if n > 0 {
				cl.dirty = make(map[string]struct{})
			}
			cl.s.mu.Unlock()
			if n == 0 {
				break
			}
			for room := range dirty {
				cl.s.mu.RLock()
				_, want := cl.s.rooms[room]
				cl.s.mu.RUnlock()
				switch {
				case want && !subs[room]:
					subs[room] = true
					cl.subscribe(topicRoomPfx + room)
				case !want && subs[room]:
					delete(subs, room)
					if err := cl.b.Unsubscribe(topicRoomPfx + room); err != nil {
						cl.s.cfg.Logger.Warn("wsevents: broker unsubscribe failed", "room", room, "err", err)
					}
					cl.nsubs.Add(-1)
				}
			}
		}
	}
}

func (cl *cluster) subscribe(topic string) {
	if err := cl.b.Subscribe(topic); err != nil {
		// Recorded all the same: the broker restores it when it is back.
		cl.s.cfg.Logger.Warn("wsevents: broker subscribe failed", "topic", topic, "err", err)
	}
	cl.nsubs.Add(1)
}

// publisher hands queued publications to the broker: one at a time, or
// what has queued up in one batch to a BatchPublisher.
func (cl *cluster) publisher() {
	defer cl.wg.Done()
	select {
	case <-cl.opened:
	case <-cl.done:
		return
	}
	bp, _ := cl.b.(BatchPublisher)
	var batch []Publication
	publish := func(p Publication) {
		if bp == nil {
			cl.publishNow(p)
			return
		}
		batch = append(batch[:0], p)
	more:
		for len(batch) < MaxPublishBatch {
			select {
			case q := <-cl.pub:
				batch = append(batch, q)
			default:
				break more
			}
		}
		cl.publishBatch(bp, batch)
		clear(batch)
	}
	for {
		select {
		case p := <-cl.pub:
			publish(p)
		case <-cl.done:
			for {
				select {
				case p := <-cl.pub:
					publish(p)
				default:
					return
				}
			}
		}
	}
}

func (cl *cluster) publishBatch(bp BatchPublisher, batch []Publication) {
	if !cl.up.Load() {
		cl.lost.Add(uint64(len(batch)))
		return
	}
	n, err := bp.PublishBatch(batch)
	n = min(max(n, 0), len(batch))
	cl.published.Add(uint64(n))
	if n < len(batch) {
		cl.lost.Add(uint64(len(batch) - n))
		cl.s.cfg.Logger.Debug("wsevents: broker publish failed", "messages", len(batch)-n, "err", err)
	}
}

func (cl *cluster) publishNow(p Publication) {
	if !cl.up.Load() {
		cl.lost.Add(1)
		return
	}
	if err := cl.b.Publish(p.Topic, p.Data); err != nil {
		cl.lost.Add(1)
		cl.s.cfg.Logger.Debug("wsevents: broker publish failed", "topic", p.Topic, "err", err)
		return
	}
	cl.published.Add(1)
}

// send queues an envelope for the publisher; it never blocks.
func (cl *cluster) send(topic string, env []byte) {
	if cl.closed.Load() {
		return
	}
	if !cl.up.Load() {
		cl.lost.Add(1)
		return
	}
	select {
	case cl.pub <- Publication{topic, env}:
	default:
		cl.lost.Add(1)
	}
}

// Routes of an emit beyond this node, decided under the registry lock.
const (
	routeNone byte = iota
	routeAll
	routeBroadcast
	routeRoom
	routeTarget
)

// route says what of an emit must cross; s.mu is held.
func (s *Server) route(from *Conn, target string) byte {
	switch target {
	case All:
		return routeAll
	case Broadcast:
		if from == nil {
			return routeAll
		}
		return routeBroadcast
	}
	if _, ok := s.rooms[target]; ok {
		return routeRoom
	}
	if _, ok := s.conns[target]; ok {
		return routeNone
	}
	return routeTarget
}

// publishEmit sends an emit's message to the other nodes.
func (cl *cluster) publishEmit(route byte, from *Conn, target string, o *outgoing) {
	var exclude string
	if from != nil {
		exclude = from.id
	}
	body := o.msg.body()
	switch route {
	case routeAll:
		cl.send(topicAll, appendEnvelope(nil, envAll, cl.node, "", "", 0, 0, body))
	case routeBroadcast:
		cl.send(topicAll, appendEnvelope(nil, envBroadcast, cl.node, "", exclude, 0, 0, body))
	case routeRoom:
		cl.send(topicRoomPfx+target, appendEnvelope(nil, envRoom, cl.node, target, exclude, 0, 0, body))
	case routeTarget:
		cl.send(topicAll, appendEnvelope(nil, envTarget, cl.node, target, exclude, 0, 0, body))
	}
}

// brokerHandler is the node's BrokerHandler; a separate type keeps these
// methods off the Server's API.
type brokerHandler struct{ cl *cluster }

func (h brokerHandler) BrokerMessage(topic string, data []byte) { h.cl.receive(data) }
func (h brokerHandler) BrokerDown(err error)                    { h.cl.down(err) }
func (h brokerHandler) BrokerError(err error) {
	h.cl.s.cfg.Logger.Warn("wsevents: broker error", "node", h.cl.node, "err", err)
}
func (h brokerHandler) BrokerUp() {
	cl := h.cl
	if cl.up.Swap(true) {
		return
	}
	cl.s.cfg.Logger.Info("wsevents: broker connection restored", "node", cl.node)
	cl.report(BrokerStatus{Up: true})
	if cl.started.Load() {
		cl.hello("")
	}
}

func (cl *cluster) down(err error) {
	if !cl.up.Swap(false) {
		return
	}
	cl.outages.Add(1)
	cl.s.cfg.Logger.Warn("wsevents: broker connection lost", "node", cl.node, "err", err)
	cl.report(BrokerStatus{Err: fmt.Errorf("%w: %w", ErrBrokerDown, err)})
}

func (cl *cluster) report(st BrokerStatus) {
	lost := cl.lost.Load()
	st.Lost = lost - cl.lostReported.Swap(lost)
	if fn := cl.s.cfg.OnBrokerStatus; fn != nil {
		fn(st)
	}
}

// receive handles one envelope from another node.
func (cl *cluster) receive(data []byte) {
	if cl.closed.Load() {
		return
	}
	e, ok := parseEnvelope(data)
	if !ok {
		cl.undecodable.Add(1)
		return
	}
	if string(e.origin) == cl.node {
		return // our own publication, already delivered here
	}
	cl.received.Add(1)
	s := cl.s
	switch e.kind {
	case envAll, envBroadcast, envRoom, envTarget:
		s.deliverRemote(e)
	case envAsk:
		cl.serveAsk(e)
	case envReply:
		cl.resolveAsk(e)
	case envCount:
		var b [binary.MaxVarintLen64]byte
		n := binary.PutUvarint(b[:], uint64(s.RoomLen(string(e.target))))
		cl.send(topicNodePfx+string(e.origin), appendEnvelope(nil, envCountAns, cl.node, "", "", e.req, 0, b[:n]))
	case envCountAns:
		n, _ := binary.Uvarint(e.body)
		cl.mu.Lock()
		if r := cl.counts[e.req]; r != nil && r.waiting != nil {
			r.sum += int(n)
			delete(r.waiting, string(e.origin))
			if len(r.waiting) == 0 {
				r.waiting = nil
				close(r.done)
			}
		}
		cl.mu.Unlock()
		cl.seen(string(e.origin))
	case envHello:
		if cl.seen(string(e.origin)) {
			cl.hello(string(e.origin)) // a newcomer: tell it we exist
		}
	case envBye:
		cl.mu.Lock()
		delete(cl.nodes, string(e.origin))
		cl.mu.Unlock()
	default:
		cl.undecodable.Add(1)
	}
}

// seen notes that a node is alive and reports whether it is new.
func (cl *cluster) seen(node string) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	_, known := cl.nodes[node]
	cl.nodes[node] = time.Now()
	return !known
}

// hello announces this node on "all", or to one node.
func (cl *cluster) hello(to string) {
	if !cl.up.Load() {
		return // BrokerUp says hello again; a lost hello is not a lost message
	}
	topic := topicAll
	if to != "" {
		topic = topicNodePfx + to
	}
	cl.send(topic, appendEnvelope(nil, envHello, cl.node, "", "", 0, 0, nil))
}

// heartbeat runs on a timer: no goroutine waits between beats.
func (cl *cluster) heartbeat() {
	cl.hello("")
	now := time.Now()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for n, t := range cl.nodes {
		if now.Sub(t) > nodeExpiry {
			delete(cl.nodes, n)
		}
	}
	if !cl.closed.Load() {
		cl.timer.Reset(heartbeatEvery)
	}
}

// deliverRemote queues another node's message on the local recipients.
func (s *Server) deliverRemote(e envelope) {
	if s.closing.Load() {
		return
	}
	o, ok := s.outgoingFrom(e.body)
	if !ok {
		s.cl.undecodable.Add(1)
		return
	}
	o.fanning = true
	s.mu.RLock()
	switch e.kind {
	case envAll, envBroadcast:
		for _, c := range s.conns {
			if c.id != string(e.exclude) {
				c.send(&o)
			}
		}
	case envRoom, envTarget:
		members := s.rooms[string(e.target)]
		for c := range members {
			if c.id != string(e.exclude) {
				c.send(&o)
			}
		}
		if e.kind == envTarget {
			if c, ok := s.conns[string(e.target)]; ok {
				if _, member := members[c]; !member {
					c.send(&o)
				}
			}
		}
	}
	s.mu.RUnlock()
	for _, c := range o.slow {
		s.cfg.OnSlowConsumer(c, c.dropped.Load())
	}
	o.done()
}

// outgoingFrom frames an event-mode message that came from another node.
// The frame type follows this node's Config, as for its own emits.
func (s *Server) outgoingFrom(body []byte) (outgoing, bool) {
	hdrLen := 0
	for i, b := range body {
		if b == '\n' {
			hdrLen = i + 1
			break
		}
	}
	if hdrLen < 4 {
		return outgoing{}, false
	}
	kind := Kind(body[1])
	f := s.frames.get()
	f.buf = append(f.buf, body...)
	op := opText
	if kind == KindBinary || s.cfg.BinaryMessages {
		op = opBinary
	}
	f.finish(op, false)
	return outgoing{srv: s, native: body[0] == typeNative, op: op, msg: f, hdrLen: hdrLen}, true
}

// randomNodeID is a node's default ID: 64 random bits, hex.
func randomNodeID() string {
	id := randomID(nil)
	return id[:16]
}
