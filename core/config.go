package wsevents

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Defaults for Config, in one place. Each is explained on its field.
const (
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultPingPeriod        = 25 * time.Second
	DefaultPongTimeout       = 20 * time.Second
	DefaultMaxMessageSize    = 1 << 20
	DefaultReadBufferSize    = 4096
	DefaultWriteBufferSize   = 4096
	DefaultMaxQueuedMessages = 1024
	DefaultMaxQueuedBytes    = 4 << 20
	DefaultShutdownGrace     = 5 * time.Second
	DefaultMaxRooms          = 1024
	DefaultMaxBrokerQueue    = 8192

	// compressionThreshold is the smallest payload worth deflating: below it
	// the deflate block overhead eats the gain.
	compressionThreshold = 128
)

// SlowConsumerPolicy says what happens when a connection's outbound queue is
// full because its client reads slower than the server emits.
type SlowConsumerPolicy int

const (
	// SlowConsumerDisconnect closes the connection with 1008 (policy). The
	// default: a client that cannot keep up misses messages either way, and
	// closing tells it so instead of silently losing them.
	SlowConsumerDisconnect SlowConsumerPolicy = iota
	// SlowConsumerDrop discards the message that did not fit, counts it
	// (Connection.Dropped, Server.Stats) and keeps the connection. For
	// tickers and dashboards where the next value replaces the lost one.
	SlowConsumerDrop
)

// RateLimitPolicy says what happens to an event over Config.EventRate.
type RateLimitPolicy int

const (
	// RateLimitDrop drops the event, answers an Ask with an error reply,
	// tells the client of dropped events (control message "ratelimited",
	// at most once a second; PROTOCOL.md) and reports ErrRateLimited to the
	// connection's OnError handlers.
	RateLimitDrop RateLimitPolicy = iota
	// RateLimitClose closes the connection with 1008 (policy).
	RateLimitClose
)

// Config configures a Server. The zero value is a good configuration: every
// zero field takes the default named beside it. New copies the Config; the
// caller's value is never modified. Durations take 0 for "the default" and a
// negative value for "none".
type Config struct {
	// IDGenerator returns the ID of a new connection from its upgrade
	// request. IDs must be unique among live connections: To(id) addresses
	// them. Default: 128 random bits, hex-encoded.
	IDGenerator func(r *http.Request) string

	// Error writes the HTTP response of a refused handshake (bad request,
	// refused origin, server shutting down). Default: http.Error with the
	// status text and reason.
	Error func(w http.ResponseWriter, r *http.Request, status int, reason error)

	// CheckOrigin decides whether a handshake from a browser page of another
	// origin is accepted. Default: a request with an Origin header is accepted
	// only when the Origin's host equals the request's Host, or matches one
	// of OriginPatterns (what gorilla/websocket and coder/websocket do).
	// Without that check any web page could open a WebSocket to your server
	// with the visitor's cookies (cross-site WebSocket hijacking).
	CheckOrigin func(r *http.Request) bool

	// OriginPatterns lists extra origin hosts the default CheckOrigin
	// accepts, as path.Match patterns over the Origin's host ("example.com",
	// "*.example.com", "localhost:*").
	OriginPatterns []string

	// InsecureSkipOriginCheck accepts every Origin. Only for development or
	// for servers that authenticate every connection without cookies.
	InsecureSkipOriginCheck bool

	// HandshakeTimeout bounds the upgrade: writing the 101 response (with
	// any headers middleware set on the ResponseWriter). Default 10s.
	// Behind an http.Server the request itself is read by the HTTP
	// server: bound it with http.Server.ReadHeaderTimeout. With Serve it
	// bounds the whole handshake, from the accept (and TLS) to the 101.
	HandshakeTimeout time.Duration

	// WriteTimeout bounds each write to the socket. A client that does not
	// read for that long is closed. Default 10s (a stalled peer must not hold
	// a connection's queue forever).
	WriteTimeout time.Duration

	// ReadTimeout bounds how long one message may take to arrive once its
	// first byte has (a slow-sender guard). Idle time between messages is
	// governed by PingPeriod and PongTimeout instead. Default 60s.
	ReadTimeout time.Duration

	// PingPeriod is how often the server pings each connection. Default 25s,
	// under the 30-60s idle timeouts of common proxies and load balancers.
	// Pings and pong deadlines are kept by one goroutine per Server (none
	// while it has no connection), on a clock of a quarter of the shortest
	// keepalive delay: a ping or a pong timeout is never early and at most
	// that quarter late.
	PingPeriod time.Duration

	// PongTimeout is how long after a ping the server waits for any frame
	// (usually the pong) before closing with 1001. Default 20s.
	PongTimeout time.Duration

	// MaxMessageSize is the largest message accepted, counted across all
	// fragments and after decompression; larger ones close the connection
	// with 1009. Default 1 MiB (socket.io's default): real payloads fit,
	// and one client cannot make the server buffer gigabytes.
	MaxMessageSize int64

	// BinaryMessages sends text and JSON events in binary frames (section
	// 2 of PROTOCOL.md allows both). Useful behind proxies that mangle text.
	BinaryMessages bool

	// ReadBufferSize is the size of the pooled buffer a connection reads
	// into while bytes are arriving; an idle connection holds none.
	// Default 4 KiB.
	ReadBufferSize int

	// WriteBufferSize is the size of the pooled buffers outgoing messages
	// are encoded into (larger messages get a buffer of their size), and
	// the most bytes one vectored write gathers. Default 4 KiB.
	WriteBufferSize int

	// EnableCompression negotiates permessage-deflate (RFC 7692) when the
	// client offers it. Messages under 128 bytes are sent uncompressed.
	// The server never keeps compression context, so one compressed
	// broadcast frame serves every recipient. Off by default: it costs CPU,
	// and mixing secrets with attacker-chosen text in one compressed message
	// leaks them (CRIME/BREACH).
	EnableCompression bool

	// Subprotocols the server accepts for native-mode connections, in
	// preference order. "wsevents.v1" (event mode) is always accepted and
	// preferred; see PROTOCOL.md section 1.
	Subprotocols []string

	// MaxQueuedMessages and MaxQueuedBytes bound each connection's outbound
	// queue. When either is exceeded SlowConsumer applies. Defaults 1024
	// messages and 4 MiB: one stalled client never holds more.
	MaxQueuedMessages int
	MaxQueuedBytes    int

	// SlowConsumer is the policy for a full outbound queue. Default
	// SlowConsumerDisconnect.
	SlowConsumer SlowConsumerPolicy

	// OnSlowConsumer, if set, is called each time a connection's queue
	// overflows, with the number of messages dropped on that connection so
	// far. It runs on the emitting goroutine after the server's locks are
	// released (it may Leave, Join or query the Server); keep it short.
	OnSlowConsumer func(c Connection, dropped uint64)

	// EventRate limits the events and asks each connection may send per
	// second, with bursts of EventBurst (a token bucket). Over the limit
	// RateLimit applies. 0 (the default) sets no limit: a chat or game
	// server usually should (for example 20/s, burst 40).
	EventRate  float64
	EventBurst int

	// RateLimit is what happens to an event over EventRate: RateLimitDrop
	// (the default) drops it, answers an Ask with an error, notifies the
	// client and reports ErrRateLimited to OnError; RateLimitClose closes
	// with 1008.
	RateLimit RateLimitPolicy

	// MaxRoomsPerConnection caps the rooms one connection can be in; Join
	// past it fails with ErrTooManyRooms. Default 1024, so a client that
	// asks to join rooms in a loop cannot grow the registry without bound.
	MaxRoomsPerConnection int

	// Logger receives handler panics and unexpected I/O errors.
	// Default slog.Default().
	Logger *slog.Logger

	// Broker makes this Server one node of a cluster: broadcasts, room
	// emits, emits to a connection ID and Server.Ask reach the connections
	// of every node sharing the broker (brokers/nats, brokers/redis, or
	// MemoryBroker in one process). Default nil: the Server is alone, and
	// emits cost nothing more. See the Broker type for what crosses and
	// the README's "Scale-out" section for the delivery guarantees.
	Broker Broker

	// NodeID names this node in the cluster; it must differ between the
	// nodes running at a time. Default: 64 random bits, hex-encoded, new
	// for each Server.
	NodeID string

	// MaxBrokerQueue bounds the messages waiting to be handed to the
	// Broker. When the broker is slower than the node's emits, the excess
	// is dropped and counted (Stats().Broker.Lost) rather than stalling the
	// emitting handlers. Default 8192.
	MaxBrokerQueue int

	// OnBrokerStatus, if set, is called when the broker connection is lost
	// and when it is back, with the number of messages that could not cross
	// meanwhile. It runs on the broker's goroutine; keep it short. The
	// outage is also logged (Warn) and counted in Stats().Broker.
	OnBrokerStatus func(BrokerStatus)
}

// withDefaults returns a copy of c with every zero field set to its default
// and every negative duration turned into "none" (0).
func (c Config) withDefaults() Config {
	if c.IDGenerator == nil {
		c.IDGenerator = randomID
	}
	if c.Error == nil {
		c.Error = defaultError
	}
	c.HandshakeTimeout = durationOr(c.HandshakeTimeout, DefaultHandshakeTimeout)
	c.WriteTimeout = durationOr(c.WriteTimeout, DefaultWriteTimeout)
	c.ReadTimeout = durationOr(c.ReadTimeout, DefaultReadTimeout)
	c.PingPeriod = durationOr(c.PingPeriod, DefaultPingPeriod)
	c.PongTimeout = durationOr(c.PongTimeout, DefaultPongTimeout)
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	if c.ReadBufferSize < 64 {
		c.ReadBufferSize = 64 // room for the largest frame header and a close frame
	}
	if c.WriteBufferSize <= 0 {
		c.WriteBufferSize = DefaultWriteBufferSize
	}
	if c.MaxQueuedMessages <= 0 {
		c.MaxQueuedMessages = DefaultMaxQueuedMessages
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if c.MaxRoomsPerConnection <= 0 {
		c.MaxRoomsPerConnection = DefaultMaxRooms
	}
	if c.EventRate > 0 && c.EventBurst <= 0 {
		c.EventBurst = max(1, int(c.EventRate))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Broker != nil && c.NodeID == "" {
		c.NodeID = randomNodeID()
	}
	if c.MaxBrokerQueue <= 0 {
		c.MaxBrokerQueue = DefaultMaxBrokerQueue
	}
	c.Subprotocols = append([]string(nil), c.Subprotocols...)
	c.OriginPatterns = append([]string(nil), c.OriginPatterns...)
	return c
}

func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func randomID(*http.Request) string {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic("wsevents: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

func defaultError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	msg := http.StatusText(status)
	if reason != nil {
		msg += ": " + reason.Error()
	}
	http.Error(w, msg, status)
}
