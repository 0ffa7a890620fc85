package wsevents

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Connection is what handlers receive: OnConnection(func(c wsevents.Connection)).
type Connection = *Conn

// Targets for To besides room names and connection IDs. They contain bytes
// that no event name, room name or generated ID uses.
const (
	// All is every connection of the server.
	All = "\x00all"
	// Broadcast is every connection except the one emitting.
	Broadcast = "\x00broadcast"
)

const (
	stateOpen int32 = iota
	stateClosing
	stateClosed
)

// closeWait bounds how long a closing connection waits for the peer's
// close frame before dropping TCP.
const closeWait = 2 * time.Second

// Conn is one client connected to a Server. The Server hands it to
// OnConnection handlers; it stays valid after the connection ends (its
// methods then return ErrClosed).
//
// Concurrency: every method is safe to call from any goroutine. The
// handlers of one connection (events, native messages, lifecycle hooks) run
// one at a time, in arrival order, on that connection's read goroutine. A
// handler that blocks holds up only its own connection; to do long work,
// start a goroutine. Emits never block on the network: they queue the
// message and return.
type Conn struct {
	// Conn's size decides much of what an idle connection costs: on
	// 64-bit Linux it stays within the 768-byte allocation class, less the
	// 8-byte header Go puts before objects over 512 bytes that hold
	// pointers (TestConnSizeClass).
	srv       *Server
	id        string
	req       *http.Request
	ctx       connContext
	netConn   net.Conn
	proto     string
	client    bool // the dialing side: masks what it sends, expects unmasked frames
	eventMode bool
	deflate   bool
	inflater  *inflater // nil without compression

	// write side, guarded by wmu
	wmu        sync.Mutex
	queue      []*frame
	spare      []*frame
	qbytes     int
	flushing   bool
	wclosed    bool
	closeFrame *frame
	headOff    int             // bytes of queue[0] already written
	rawW       syscall.RawConn // for non-blocking writes; nil where unavailable
	closeDone  chan struct{}   // closed once the close frame left (or never will)
	closeOnce  sync.Once
	rawWrite   // platform state of non-blocking writes
	closeSent  atomic.Bool
	dropped    atomic.Uint64

	// lifecycle
	state    atomic.Int32
	peerDone atomic.Bool // the peer's close frame arrived

	hs    *handlerSet // &hsOwn, or the set a reconnecting Client shares across its connections
	hsOwn handlerSet

	// values, pending asks and why the connection ended, guarded by mu
	mu      sync.Mutex
	values  map[string]any
	pending map[uint64]chan askResult
	cerr    error

	rooms map[string]struct{} // guarded by srv.mu

	askID atomic.Uint64

	// keepalive (keepalive.go)
	heard   atomic.Bool
	pinging bool  // touched only by the keepalive goroutine
	kaOn    bool  // in the wheel; guarded by srv.ka.mu, as kaSlot and kaPos
	kaSlot  int32 // wheel slot, or kaOff, kaStepping
	kaPos   int32 // index in the slot
	kaDue   int64 // tick of the next step

	parkState              // poller_linux.go
	rd        reader       // read goroutine only
	bucket    *tokenBucket // read goroutine only; made at the first event under Config.EventRate
	curEvent  string       // event being handled, for panic reports; read goroutine only
}

// ID is the connection's ID, from Config.IDGenerator. To(id) addresses it.
func (c *Conn) ID() string { return c.id }

// Server is the server the connection belongs to.
func (c *Conn) Server() *Server { return c.srv }

// Request is the HTTP upgrade request (headers, URL, cookies, and the
// values adapters and middleware put in its context), as kept for the
// connection's life: a copy without the headers only the handshake reads
// (Connection, Upgrade, Sec-WebSocket-Key, -Version and -Extensions), so
// that an idle connection does not hold them. Its context keeps the
// request's values; it is not cancelled when the connection ends (the
// connection's own Context is). Config.IDGenerator and Config.CheckOrigin
// see the request whole.
func (c *Conn) Request() *http.Request { return c.req }

// Context is done when the connection ends. It carries the upgrade
// request's context values.
func (c *Conn) Context() context.Context { return &c.ctx }

// Subprotocol is the negotiated subprotocol: Subprotocol ("wsevents.v1")
// for event mode, one of Config.Subprotocols or "" for native mode.
func (c *Conn) Subprotocol() string { return c.proto }

// Dropped is the number of messages dropped for this connection by the
// SlowConsumerDrop policy.
func (c *Conn) Dropped() uint64 { return c.dropped.Load() }

// On registers a handler for an event. handler is one of: func(),
// func(string), func([]byte), func(int), func(float64), func(bool),
// func(any) (JSON decoded into any), func(Message), func(Message) error,
// or func(Message) (any, error) to answer the peer's Ask; see also JSON.
// Several handlers may share an event; they run in registration order.
// Any other type panics: it is a programming error.
func (c *Conn) On(event string, handler any) {
	if !validEventName(event) {
		panic(fmt.Sprintf("wsevents: On(%q): %v", event, ErrInvalidEvent))
	}
	checkHandler(event, handler)
	c.hs.on(event, handler)
}

// OnMessage registers a handler for native messages: func([]byte),
// func(string) or func(Message) (whose Kind tells text from binary).
func (c *Conn) OnMessage(handler any) {
	checkNativeHandler(handler)
	c.hs.mu.Lock()
	c.hs.onMessage = append(c.hs.onMessage, handler)
	c.hs.mu.Unlock()
}

// OnDisconnect registers a handler run once when the connection ends.
func (c *Conn) OnDisconnect(fn func()) {
	c.hs.mu.Lock()
	c.hs.onDisconnect = append(c.hs.onDisconnect, fn)
	c.hs.mu.Unlock()
}

// OnError registers a handler for errors of this connection: handler
// errors and panics, undecodable payloads, protocol violations.
func (c *Conn) OnError(fn func(error)) {
	c.hs.mu.Lock()
	c.hs.onError = append(c.hs.onError, fn)
	c.hs.mu.Unlock()
}

// OnPing registers a handler for the peer's pings (answered automatically).
func (c *Conn) OnPing(fn func()) {
	c.hs.mu.Lock()
	r := c.hs.rareHooks()
	r.onPing = append(r.onPing, fn)
	c.hs.mu.Unlock()
}

// OnPong registers a handler for the peer's pongs.
func (c *Conn) OnPong(fn func()) {
	c.hs.mu.Lock()
	r := c.hs.rareHooks()
	r.onPong = append(r.onPong, fn)
	c.hs.mu.Unlock()
}

// OnLeave registers a handler run when the connection leaves a room,
// including when it disconnects.
func (c *Conn) OnLeave(fn func(string)) {
	c.hs.mu.Lock()
	r := c.hs.rareHooks()
	r.onLeave = append(r.onLeave, fn)
	c.hs.mu.Unlock()
}

// SetValue and GetValue hold per-connection values for handlers.
func (c *Conn) SetValue(key string, value any) {
	c.mu.Lock()
	if c.values == nil {
		c.values = make(map[string]any)
	}
	c.values[key] = value
	c.mu.Unlock()
}

// GetValue returns the value SetValue stored under key, or nil.
func (c *Conn) GetValue(key string) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.values[key]
}

// Emit sends an event to this connection. data is a string (text),
// []byte (binary), a number, bool or nil, json.RawMessage, a Message, or
// any value encoding/json can marshal (PROTOCOL.md, Kinds).
func (c *Conn) Emit(event string, data any) error {
	if !c.eventMode {
		return ErrNativeConnection
	}
	if !validEventName(event) {
		return fmt.Errorf("%w: %q", ErrInvalidEvent, event)
	}
	o, err := c.srv.encodeEvent(typeEvent, 0, event, data)
	return c.sendOnce(o, err)
}

// EmitRaw sends an event whose payload is already encoded as kind (text,
// JSON or binary). It is Emit without the interface conversion of its
// argument: the variant for hot paths, allocation-free.
func (c *Conn) EmitRaw(event string, kind Kind, payload []byte) error {
	if !c.eventMode {
		return ErrNativeConnection
	}
	if !validEventName(event) {
		return fmt.Errorf("%w: %q", ErrInvalidEvent, event)
	}
	o, err := c.srv.encodeRaw(event, kind, payload)
	return c.sendOnce(o, err)
}

// EmitMessage sends a native message: a string or []byte goes as text
// (a []byte that is not UTF-8 as binary), a Message keeps its Kind.
func (c *Conn) EmitMessage(data any) error {
	o, err := c.srv.encodeNative(data)
	return c.sendOnce(o, err)
}

// sendOnce queues a freshly encoded message on c alone.
func (c *Conn) sendOnce(o outgoing, err error) error {
	if err != nil {
		return err
	}
	err = c.send(&o)
	o.done()
	return err
}

// To addresses others from this connection: All, Broadcast (everyone
// but this connection), a room's other members, or a connection ID.
func (c *Conn) To(target string) Emitter {
	return Emitter{srv: c.srv, from: c, target: target}
}

// Join adds the connection to a room, creating the room if needed. It
// fails with ErrTooManyRooms past Config.MaxRoomsPerConnection, and with
// ErrClosed on a closed connection.
func (c *Conn) Join(room string) error { return c.srv.join(c, room) }

// Leave removes the connection from a room and reports whether it was
// a member. A room with no members disappears.
func (c *Conn) Leave(room string) bool {
	if !c.srv.leave(c, room) {
		return false
	}
	c.fireLeave(room)
	return true
}

// IsJoined reports whether the connection is in the room.
func (c *Conn) IsJoined(room string) bool {
	c.srv.mu.RLock()
	_, ok := c.rooms[room]
	c.srv.mu.RUnlock()
	return ok
}

// Rooms lists the rooms the connection is in, sorted.
func (c *Conn) Rooms() []string {
	c.srv.mu.RLock()
	rooms := make([]string, 0, len(c.rooms))
	for r := range c.rooms {
		rooms = append(rooms, r)
	}
	c.srv.mu.RUnlock()
	sort.Strings(rooms)
	return rooms
}

func (c *Conn) fireLeave(room string) {
	var hs []func(string)
	c.hs.mu.Lock()
	if r := c.hs.rare; r != nil {
		hs = r.onLeave
	}
	c.hs.mu.Unlock()
	for _, h := range hs {
		h(room)
	}
}

// Disconnect closes the connection with 1000 after sending what is
// already queued.
func (c *Conn) Disconnect() error { return c.Close(StatusNormalClosure, "") }

// Close closes the connection with the given code and reason.
func (c *Conn) Close(code StatusCode, reason string) error {
	if !c.closeAsync(code, reason, false) {
		return ErrClosed
	}
	return nil
}

// setCloseErr records why the connection ended; the first reason wins.
func (c *Conn) setCloseErr(err error) {
	c.mu.Lock()
	if c.cerr == nil {
		c.cerr = err
	}
	c.mu.Unlock()
}

func (c *Conn) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cerr
}

// armCloseDeadline bounds the wait for the peer's answer to our close.
func (c *Conn) armCloseDeadline() {
	c.netConn.SetReadDeadline(time.Now().Add(closeWait + c.srv.cfg.WriteTimeout))
}

// closeAsync starts the closing handshake from this side: the close frame
// is queued behind what is already queued (or instead of it when discard
// is set), and the read loop gets closeWait to see the peer's answer. It
// reports false if the connection was already closing.
func (c *Conn) closeAsync(code StatusCode, reason string, discard bool) bool {
	if !c.state.CompareAndSwap(stateOpen, stateClosing) {
		return false
	}
	c.setCloseErr(&CloseError{Code: code, Reason: reason})
	c.queueClose(closePayload(code, reason), discard)
	c.armCloseDeadline()
	c.ctx.cancel()
	c.unpark() // a parked connection needs its goroutine to wait for the answer
	return true
}

// queueClose makes the close frame the last thing written.
func (c *Conn) queueClose(payload []byte, discard bool) {
	f := c.own(c.srv.frames.controlFrame(opClose, payload))
	c.wmu.Lock()
	if c.wclosed || c.closeFrame != nil {
		c.wmu.Unlock()
		c.srv.frames.release(f)
		return
	}
	var dropped []*frame
	if discard {
		dropped = c.queue
		c.queue = nil
		for _, d := range dropped {
			c.qbytes -= len(d.bytes())
		}
	}
	c.closeFrame = f
	c.closeDone = make(chan struct{})
	start := !c.flushing
	c.flushing = true
	c.wmu.Unlock()
	for _, d := range dropped {
		c.srv.frames.release(d)
	}
	if start {
		c.srv.schedule(c)
	}
}

// closeFinished marks the queued close frame as written or abandoned.
func (c *Conn) closeFinished() {
	c.wmu.Lock()
	ch := c.closeDone
	c.wmu.Unlock()
	if ch != nil {
		c.closeOnce.Do(func() { close(ch) })
	}
}

// closeWritten runs after the close frame went out. If it answered the
// peer's close, the exchange is complete and the server, per RFC 6455
// section 7.1.1, closes TCP first.
func (c *Conn) closeWritten() {
	if c.peerDone.Load() {
		c.closeSocket()
	}
}

func (c *Conn) reportError(err error) {
	c.hs.mu.Lock()
	hs := c.hs.onError
	c.hs.mu.Unlock()
	for _, h := range hs {
		h(err)
	}
	if len(hs) == 0 {
		c.srv.cfg.Logger.Debug("wsevents: connection error", "conn", c.id, "err", err)
	}
}

// keepaliveStep is one step of c's keepalive (keepalive.go): alternately
// send a ping, then check that something arrived since. It returns the
// delay to the next step, 0 when the connection is no longer open.
func (c *Conn) keepaliveStep() time.Duration {
	if c.state.Load() != stateOpen {
		return 0
	}
	cfg := &c.srv.cfg
	if c.pinging {
		c.pinging = false
		if !c.heard.Load() {
			c.closeAsync(StatusGoingAway, "pong timeout", true)
			return 0
		}
		if rest := cfg.PingPeriod - cfg.PongTimeout; rest > 0 {
			return rest
		}
	}
	if cfg.PongTimeout == 0 {
		c.enqueueControl(c.srv.frames.controlFrame(opPing, nil))
		return cfg.PingPeriod
	}
	// Forget what came before the ping first: the pong may come back
	// before enqueueControl returns.
	c.heard.Store(false)
	c.enqueueControl(c.srv.frames.controlFrame(opPing, nil))
	c.pinging = true
	return cfg.PongTimeout
}
