package wsevents

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// DialOptions configures Dial. The zero value is a good configuration.
type DialOptions struct {
	// Config holds the settings the client side shares with the server
	// side, with the same defaults: HandshakeTimeout, WriteTimeout,
	// ReadTimeout, PingPeriod, PongTimeout, MaxMessageSize, BinaryMessages,
	// buffer sizes, queue limits and SlowConsumer, EnableCompression,
	// Subprotocols (offered after "wsevents.v1") and Logger. The fields
	// about accepting connections (origins, Error) are ignored.
	Config Config

	// Header is sent with the handshake: Origin, Authorization, cookies.
	Header http.Header

	// Native leaves "wsevents.v1" out of the offer: the connection then
	// carries native messages only (PROTOCOL.md section 1).
	Native bool

	// Setup runs once, before the first connection is made: register the
	// Client's handlers there (cl.On, cl.OnMessage, cl.OnDisconnect...).
	// Handlers registered after Dial returns serve what arrives from then
	// on, and a server that emits in OnConnection may have sent its first
	// messages before them; those are dropped as events without a handler.
	Setup func(cl *Client)

	// OnConnect runs for each connection the Client makes, the first and
	// every reconnection, before any of its messages is read.
	OnConnect func(c *Conn)

	// Reconnect, when not nil, makes the Client dial again after its
	// connection is lost, until Close. It does not when the server closed
	// with a code that says retrying cannot help (1002, 1003, 1007, 1008,
	// 1009, 1010).
	Reconnect *Reconnect
}

// Reconnect is the Client's redial policy: exponential backoff with
// jitter. Zero fields take the defaults named beside them.
type Reconnect struct {
	InitialDelay time.Duration // first wait; default 500ms
	MaxDelay     time.Duration // cap of the doubling waits; default 10s
	MaxAttempts  int           // dials per outage before giving up; 0: no limit
}

const (
	defaultReconnectInitial = 500 * time.Millisecond
	defaultReconnectMax     = 10 * time.Second
)

// ErrNotConnected is returned by a Client's emits and asks while it is
// between connections.
var ErrNotConnected = errors.New("wsevents: not connected")

// HandshakeError is returned by Dial when the server answered the
// handshake with an HTTP status other than 101 (403 for a refused origin,
// 401 from an auth middleware, 503 during shutdown).
type HandshakeError struct {
	Status int
}

// Error names the status.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wsevents: handshake refused: %d %s", e.Status, http.StatusText(e.Status))
}

// Client is the dialing side of a connection, with the vocabulary of the
// server side (On, Emit, Ask, OnMessage, EmitMessage), for services and
// tools that talk to a wsevents server from Go. Handlers registered on the
// Client serve every connection it makes; register them in
// DialOptions.Setup to be sure none of the server's first messages comes
// before them. Its methods are safe for concurrent use.
type Client struct {
	url  string
	opts DialOptions
	srv  *Server // holds the configuration, pools and writers; accepts nothing
	hs   *handlerSet
	ctx  context.Context
	stop context.CancelFunc
	done chan struct{}

	mu        sync.Mutex
	conn      *Conn
	onConnect []func(*Conn)
	err       error
}

// Dial connects to a wsevents server (ws:// or wss:// URL) and returns a
// Client whose connection is open. It fails if the first connection
// cannot be made; Reconnect applies to later losses.
func Dial(ctx context.Context, url string, opts DialOptions) (*Client, error) {
	cl := &Client{
		url:  url,
		opts: opts,
		srv:  New(opts.Config),
		hs:   new(handlerSet),
		done: make(chan struct{}),
	}
	cl.ctx, cl.stop = context.WithCancel(context.Background())
	if opts.Setup != nil {
		opts.Setup(cl)
	}
	c, err := cl.dial(ctx)
	if err != nil {
		cl.stop()
		return nil, err
	}
	go cl.run(c)
	return cl, nil
}

func (cl *Client) dial(ctx context.Context) (*Conn, error) {
	cfg := &cl.srv.cfg
	u, err := url.Parse(cl.url)
	if err != nil {
		return nil, fmt.Errorf("wsevents: dial: %w", err)
	}
	var protos []string
	if !cl.opts.Native {
		protos = append(protos, Subprotocol)
	}
	d := ws.Dialer{
		Protocols: append(protos, cfg.Subprotocols...),
		Timeout:   cfg.HandshakeTimeout,
	}
	if cl.opts.Header != nil {
		d.Header = ws.HandshakeHeaderHTTP(cl.opts.Header)
	}
	if cfg.EnableCompression {
		// Our deflater keeps no context, so the server may drop its own
		// decompression window for us.
		offer := wsflate.Parameters{ClientNoContextTakeover: true}
		d.Extensions = []httphead.Option{offer.Option()}
	}
	netConn, br, hs, err := d.Dial(ctx, cl.url)
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			return nil, &HandshakeError{Status: int(se)}
		}
		return nil, fmt.Errorf("wsevents: dial %s: %w", cl.url, err)
	}
	var pending []byte
	if br != nil {
		// Frames that came with the handshake response.
		if n := br.Buffered(); n > 0 {
			p, _ := br.Peek(n)
			pending = append([]byte(nil), p...)
		}
		ws.PutReader(br)
	}
	var in *inflater
	for _, ext := range hs.Extensions {
		var p wsflate.Parameters
		if string(ext.Name) == wsflate.ExtensionName && p.Parse(ext) == nil {
			in = &inflater{takeover: !p.ServerNoContextTakeover}
		}
	}
	req := (&http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: cl.opts.Header.Clone()}).WithContext(cl.ctx)
	c := cl.srv.newConn(netConn, cfg.IDGenerator(req), req, hs.Protocol, in, pending)
	c.client = true
	c.hs = cl.hs
	cl.srv.liveAdd()
	c.startKeepalive()

	cl.mu.Lock()
	hooks := append([]func(*Conn){}, cl.onConnect...)
	cl.mu.Unlock()
	if h := cl.opts.OnConnect; h != nil {
		hooks = append([]func(*Conn){h}, hooks...)
	}
	if err := c.connected(hooks); err != nil {
		if c.closeAsync(StatusInternalError, "internal error", true) {
			c.drain()
		}
		c.finish()
		return nil, err
	}
	cl.mu.Lock()
	cl.conn = c
	cl.mu.Unlock()
	return c, nil
}

// run serves connections until the Client is closed or gives up.
func (cl *Client) run(c *Conn) {
	defer close(cl.done)
	for {
		c.serve()
		cl.mu.Lock()
		cl.conn = nil
		cl.mu.Unlock()
		code := CloseStatus(c.closeErr())
		if cl.ctx.Err() != nil || cl.opts.Reconnect == nil || finalCloseCode(code) {
			cl.setErr(c.closeErr())
			return
		}
		var err error
		if c, err = cl.redial(); err != nil {
			cl.setErr(err)
			return
		}
		if cl.ctx.Err() != nil {
			c.Close(StatusNormalClosure, "") // Close ran while this dial finished
		}
	}
}

// redial dials with exponential backoff and jitter until it connects, the
// attempts run out or Close is called.
func (cl *Client) redial() (*Conn, error) {
	rc := cl.opts.Reconnect
	delay := durationOr(rc.InitialDelay, defaultReconnectInitial)
	maxDelay := durationOr(rc.MaxDelay, defaultReconnectMax)
	for attempt := 1; rc.MaxAttempts == 0 || attempt <= rc.MaxAttempts; attempt++ {
		wait := delay/2 + rand.N(delay/2+1) // jitter: 50-100% of the delay
		t := time.NewTimer(wait)
		select {
		case <-cl.ctx.Done():
			t.Stop()
			return nil, ErrClosed
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(cl.ctx, cl.srv.cfg.HandshakeTimeout+time.Second)
		c, err := cl.dial(ctx)
		cancel()
		if err == nil {
			return c, nil
		}
		cl.report(err)
		delay = min(delay*2, maxDelay)
	}
	return nil, fmt.Errorf("wsevents: gave up reconnecting to %s after %d attempts", cl.url, rc.MaxAttempts)
}

func finalCloseCode(code StatusCode) bool {
	switch code {
	case StatusProtocolError, StatusUnsupportedData, StatusInvalidPayload, StatusPolicyViolation, StatusMessageTooBig, 1010:
		return true
	}
	return false
}

func (cl *Client) report(err error) {
	cl.hs.mu.Lock()
	hs := cl.hs.onError
	cl.hs.mu.Unlock()
	for _, h := range hs {
		h(err)
	}
	if len(hs) == 0 {
		cl.srv.cfg.Logger.Debug("wsevents: redial failed", "url", cl.url, "err", err)
	}
}

func (cl *Client) setErr(err error) {
	cl.mu.Lock()
	cl.err = err
	cl.mu.Unlock()
}

// Conn returns the current connection, or nil between connections.
func (cl *Client) Conn() *Conn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.conn
}

// current is the open connection; a lost one whose successor is not up
// yet (OnDisconnect hooks run then) counts as none.
func (cl *Client) current() (*Conn, error) {
	if c := cl.Conn(); c != nil && c.state.Load() == stateOpen {
		return c, nil
	}
	select {
	case <-cl.done:
		return nil, ErrClosed
	default:
		if cl.ctx.Err() != nil {
			return nil, ErrClosed
		}
		return nil, ErrNotConnected
	}
}

// On registers an event handler for every connection; see Conn.On.
func (cl *Client) On(event string, handler any) {
	if !validEventName(event) {
		panic(fmt.Sprintf("wsevents: On(%q): %v", event, ErrInvalidEvent))
	}
	checkHandler(event, handler)
	cl.hs.on(event, handler)
}

// OnMessage registers a native message handler; see Conn.OnMessage.
func (cl *Client) OnMessage(handler any) {
	checkNativeHandler(handler)
	cl.hs.mu.Lock()
	cl.hs.onMessage = append(cl.hs.onMessage, handler)
	cl.hs.mu.Unlock()
}

// OnError registers a handler for connection errors and failed redials.
func (cl *Client) OnError(fn func(error)) {
	cl.hs.mu.Lock()
	cl.hs.onError = append(cl.hs.onError, fn)
	cl.hs.mu.Unlock()
}

// OnDisconnect registers a handler run each time a connection ends.
func (cl *Client) OnDisconnect(fn func()) {
	cl.hs.mu.Lock()
	cl.hs.onDisconnect = append(cl.hs.onDisconnect, fn)
	cl.hs.mu.Unlock()
}

// OnConnect registers a handler run for each later connection (after a
// reconnect), before its messages are read. For the first connection use
// DialOptions.OnConnect.
func (cl *Client) OnConnect(fn func(*Conn)) {
	cl.mu.Lock()
	cl.onConnect = append(cl.onConnect, fn)
	cl.mu.Unlock()
}

// Emit sends an event on the current connection.
func (cl *Client) Emit(event string, data any) error {
	c, err := cl.current()
	if err != nil {
		return err
	}
	return c.Emit(event, data)
}

// EmitRaw sends a pre-encoded event payload; see Conn.EmitRaw.
func (cl *Client) EmitRaw(event string, kind Kind, payload []byte) error {
	c, err := cl.current()
	if err != nil {
		return err
	}
	return c.EmitRaw(event, kind, payload)
}

// EmitMessage sends a native message; see Conn.EmitMessage.
func (cl *Client) EmitMessage(data any) error {
	c, err := cl.current()
	if err != nil {
		return err
	}
	return c.EmitMessage(data)
}

// Ask asks the server and waits for its answer; see Conn.Ask.
func (cl *Client) Ask(ctx context.Context, event string, data any) (Message, error) {
	c, err := cl.current()
	if err != nil {
		return Message{}, err
	}
	return c.Ask(ctx, event, data)
}

// Done is closed when the Client has stopped for good: after Close, a
// final close code, or a reconnect that gave up. Err then says why.
func (cl *Client) Done() <-chan struct{} { return cl.done }

// Err is why the Client stopped (nil while it runs).
func (cl *Client) Err() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.err
}

// Close ends the Client: no more reconnects, the current connection is
// closed with 1000, and Close returns when it has ended.
func (cl *Client) Close() error {
	cl.stop()
	if c := cl.Conn(); c != nil {
		c.Close(StatusNormalClosure, "")
	}
	<-cl.done
	return nil
}
