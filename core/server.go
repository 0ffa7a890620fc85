package wsevents

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Server accepts WebSocket connections and routes events between them. It
// is an http.Handler: mount it on any router. Create it with New; all its
// methods are safe for concurrent use.
type Server struct {
	cfg    Config
	frames *framePool
	rbufs  sync.Pool

	mu     sync.RWMutex
	onConn []func(Connection)
	conns  map[string]*Conn
	rooms  map[string]map[*Conn]struct{}
	cl     *cluster // nil without Config.Broker

	// wq is the ready list of the shared writers (writers.go).
	wq struct {
		mu      sync.Mutex
		ready   []*Conn
		head    int
		writers int
		max     int
		// run is s.writer as a func value, made once: a go statement
		// calling a method (go s.writer()) allocates a closure for its
		// receiver every time, one with no arguments does not.
		run func()
	}

	ka        keepalive     // keepalive.go
	parkAfter time.Duration // idle time before a connection parks (poller_linux.go)
	parks     atomic.Uint64 // connections parked so far, for the tests

	closing atomic.Bool
	// What Shutdown closes of Serve's (listen.go): its listeners and the
	// connections whose handshake is under way.
	lnMu      sync.Mutex
	listeners map[io.Closer]struct{}
	// live counts connections being served; Shutdown waits for zero. (A
	// WaitGroup cannot take Add while Shutdown waits.)
	liveMu   sync.Mutex
	liveN    int
	liveZero chan struct{}

	stats struct {
		accepted atomic.Uint64
		refused  atomic.Uint64
		dropped  atomic.Uint64
		panics   atomic.Uint64
	}
}

var _ http.Handler = (*Server)(nil)

// New returns a Server configured by cfg (see Config for the defaults of
// zero fields). It starts no goroutine: a connection's goroutine starts
// with its request.
func New(cfg Config) *Server {
	s := &Server{
		cfg:   cfg.withDefaults(),
		conns: make(map[string]*Conn),
		rooms: make(map[string]map[*Conn]struct{}),
	}
	if s.cfg.Broker != nil {
		s.cl = newCluster(s)
	}
	if s.cfg.PingPeriod > 0 {
		s.ka.init(&s.cfg)
	}
	s.parkAfter = idleParkAfter
	s.frames = newFramePool(s.cfg.WriteBufferSize)
	s.wq.max = maxWriters()
	s.wq.run = s.writer
	size := s.cfg.ReadBufferSize
	s.rbufs.New = func() any {
		b := make([]byte, size)
		return &b
	}
	return s
}

// OnConnection registers a handler run for each new connection, before
// any of its messages is read: register the connection's handlers there.
func (s *Server) OnConnection(fn func(Connection)) {
	s.mu.Lock()
	s.onConn = append(s.onConn, fn)
	s.mu.Unlock()
}

// To addresses connections from the server: All (Broadcast is the same
// here), a room, or a connection ID. Use it from tickers, HTTP handlers or
// anywhere outside a connection's handlers.
func (s *Server) To(target string) Emitter {
	return Emitter{srv: s, target: target}
}

// Get returns the live connection with the given ID.
func (s *Server) Get(id string) (Connection, bool) {
	s.mu.RLock()
	c, ok := s.conns[id]
	s.mu.RUnlock()
	if !ok {
		return nil, false
	}
	return c, true
}

// Len returns the number of live connections.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.conns)
}

// Rooms lists the rooms that have members, sorted.
func (s *Server) Rooms() []string {
	s.mu.RLock()
	names := make([]string, 0, len(s.rooms))
	for name := range s.rooms {
		names = append(names, name)
	}
	s.mu.RUnlock()
	sort.Strings(names)
	return names
}

// RoomLen returns the number of members of a room (0 when it does not exist).
func (s *Server) RoomLen(room string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.rooms[room])
}

// RoomMembers returns the IDs of a room's members, sorted.
func (s *Server) RoomMembers(room string) []string {
	s.mu.RLock()
	ids := make([]string, 0, len(s.rooms[room]))
	for c := range s.rooms[room] {
		ids = append(ids, c.id)
	}
	s.mu.RUnlock()
	sort.Strings(ids)
	return ids
}

// Stats are counters of a Server since New.
type Stats struct {
	Connections int    // live now
	Accepted    uint64 // handshakes completed
	Refused     uint64 // handshakes refused (origin, bad request, shutdown)
	Dropped     uint64 // messages dropped by the SlowConsumerDrop policy or a full queue
	Panics      uint64 // handler panics (each closed its connection with 1011)
	Broker      BrokerStats
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Connections: s.Len(),
		Accepted:    s.stats.accepted.Load(),
		Refused:     s.stats.refused.Load(),
		Dropped:     s.stats.dropped.Load(),
		Panics:      s.stats.panics.Load(),
		Broker:      s.brokerStats(),
	}
}

func (s *Server) brokerStats() BrokerStats {
	if s.cl == nil {
		return BrokerStats{}
	}
	return s.cl.stats()
}

// Shutdown stops accepting connections (ServeHTTP answers 503; the
// listeners given to Serve close), closes every connection with 1001
// after what is queued for it, and waits for them to end. When ctx ends
// first (or after DefaultShutdownGrace if ctx has no deadline) the
// remaining connections are dropped and ctx's error, or
// context.DeadlineExceeded, is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	s.closeListeners()
	if s.cl != nil {
		// After the connections: their last emits still cross.
		defer s.cl.close()
	}
	s.mu.RLock()
	all := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		all = append(all, c)
	}
	s.mu.RUnlock()
	for _, c := range all {
		c.closeAsync(StatusGoingAway, "server shutting down", false)
	}
	done := s.liveDone()
	var grace <-chan time.Time
	if _, ok := ctx.Deadline(); !ok {
		t := time.NewTimer(DefaultShutdownGrace)
		defer t.Stop()
		grace = t.C
	}
	var err error
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-grace:
		err = context.DeadlineExceeded
	}
	s.mu.RLock()
	for _, c := range s.conns {
		c.closeSocket()
	}
	s.mu.RUnlock()
	<-done
	return err
}

// register adds c to the server; it fails when the ID is taken.
func (s *Server) register(c *Conn) error {
	s.clusterOn()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.conns[c.id]; dup {
		return errors.New("wsevents: duplicate connection ID " + c.id)
	}
	s.conns[c.id] = c
	return nil
}

// unregister removes c and its room memberships; it returns the rooms c
// was in, for OnLeave.
func (s *Server) unregister(c *Conn) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
	rooms := make([]string, 0, len(c.rooms))
	for room := range c.rooms {
		s.removeMember(c, room)
		rooms = append(rooms, room)
	}
	sort.Strings(rooms)
	return rooms
}

func (s *Server) join(c *Conn, room string) error {
	s.mu.Lock()
	if c.state.Load() == stateClosed {
		s.mu.Unlock()
		return ErrClosed
	}
	if _, in := c.rooms[room]; !in && s.cfg.MaxRoomsPerConnection > 0 && len(c.rooms) >= s.cfg.MaxRoomsPerConnection {
		s.mu.Unlock()
		return ErrTooManyRooms
	}
	members := s.rooms[room]
	if members == nil {
		members = make(map[*Conn]struct{})
		s.rooms[room] = members
		if s.cl != nil {
			s.cl.roomChanged(room)
		}
	}
	members[c] = struct{}{}
	if c.rooms == nil {
		c.rooms = make(map[string]struct{})
	}
	c.rooms[room] = struct{}{}
	s.mu.Unlock()
	return nil
}

func (s *Server) leave(c *Conn, room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := c.rooms[room]; !ok {
		return false
	}
	s.removeMember(c, room)
	return true
}

// removeMember drops c from room; empty rooms disappear. s.mu is held.
func (s *Server) removeMember(c *Conn, room string) {
	delete(c.rooms, room)
	members := s.rooms[room]
	delete(members, c)
	if len(members) == 0 {
		delete(s.rooms, room)
		if s.cl != nil {
			s.cl.roomChanged(room)
		}
	}
}

// Emitter sends to the target chosen with To. It is a small value: To(...)
// costs no allocation.
type Emitter struct {
	srv    *Server
	from   *Conn // nil for server-side emits
	target string
}

// Emit sends an event to every connection of the target that speaks events.
func (e Emitter) Emit(event string, data any) error {
	if !validEventName(event) {
		return ErrInvalidEvent
	}
	o, err := e.srv.encodeEvent(typeEvent, 0, event, data)
	return e.fanOutOnce(o, err)
}

// EmitRaw sends an already encoded event payload; see Conn.EmitRaw.
func (e Emitter) EmitRaw(event string, kind Kind, payload []byte) error {
	if !validEventName(event) {
		return ErrInvalidEvent
	}
	o, err := e.srv.encodeRaw(event, kind, payload)
	return e.fanOutOnce(o, err)
}

// EmitMessage sends a native message to every connection of the target.
func (e Emitter) EmitMessage(data any) error {
	o, err := e.srv.encodeNative(data)
	return e.fanOutOnce(o, err)
}

// fanOutOnce sends a freshly encoded message to the emitter's target.
func (e Emitter) fanOutOnce(o outgoing, err error) error {
	if err != nil {
		return err
	}
	err = e.srv.fanOut(e.from, e.target, &o)
	o.done()
	return err
}

// fanOut queues o on every connection the target names. Connections that
// cannot take it (native mode for events) or whose queue is full are
// skipped; the slow-consumer policy has already dealt with the latter.
func (s *Server) fanOut(from *Conn, target string, o *outgoing) error {
	if s.closing.Load() {
		return ErrServerClosed
	}
	o.fanning = true
	s.mu.RLock()
	err := s.fanOutLocked(from, target, o)
	route := routeNone
	if s.cl != nil {
		route = s.route(from, target)
	}
	s.mu.RUnlock()
	// The hook runs without the registry lock: it may Leave, Join or call
	// the Server's methods.
	for _, c := range o.slow {
		s.cfg.OnSlowConsumer(c, c.dropped.Load())
	}
	if route != routeNone {
		// The target may live on other nodes: not finding it here is no error.
		if err == ErrNoConnection {
			err = nil
		}
		s.clusterOn().publishEmit(route, from, target, o)
	}
	return err
}

func (s *Server) fanOutLocked(from *Conn, target string, o *outgoing) error {
	switch target {
	case All, Broadcast:
		for _, c := range s.conns {
			if c == from && target == Broadcast {
				continue
			}
			c.send(o)
		}
		return nil
	}
	members, isRoom := s.rooms[target]
	for c := range members {
		if c != from {
			c.send(o)
		}
	}
	if c, ok := s.conns[target]; ok {
		if _, member := members[c]; !member {
			return c.send(o)
		}
		return nil
	}
	if !isRoom {
		return ErrNoConnection
	}
	return nil
}

func (s *Server) liveAdd() {
	s.liveMu.Lock()
	s.liveN++
	s.liveMu.Unlock()
}

func (s *Server) liveDec() {
	s.liveMu.Lock()
	s.liveN--
	if s.liveN == 0 && s.liveZero != nil {
		close(s.liveZero)
		s.liveZero = nil
	}
	s.liveMu.Unlock()
}

// liveDone returns a channel closed when no connection is being served.
func (s *Server) liveDone() <-chan struct{} {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	ch := make(chan struct{})
	if s.liveN == 0 {
		close(ch)
		return ch
	}
	if s.liveZero == nil {
		s.liveZero = make(chan struct{})
	}
	return s.liveZero
}
