package wsnats

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	wsevents "github.com/wsevents/wsevents/core"
)

// Defaults of Options.
const (
	DefaultPrefix       = "wsevents"
	DefaultReconnectMin = 100 * time.Millisecond
	DefaultReconnectMax = 5 * time.Second
	DefaultPending      = 65536
	// confirmTimeout bounds the round trip that confirms a subscription.
	confirmTimeout = 2 * time.Second
)

// Options configures Connect. The zero value is a good configuration.
type Options struct {
	// Prefix is the first token of every subject: nodes sharing a NATS
	// server talk to each other only when their prefixes match. Default
	// "wsevents".
	Prefix string

	// ReconnectMin and ReconnectMax bound the wait between reconnection
	// attempts: it doubles from ReconnectMin up to ReconnectMax, with
	// jitter, and attempts never stop. Defaults 100ms and 5s.
	ReconnectMin, ReconnectMax time.Duration

	// Pending is the number of received messages that may wait for the
	// node; past it NATS drops them and the node logs a slow-consumer
	// error. Default 65536.
	Pending int

	// NATS are further options for the connection (credentials, TLS, a
	// name), applied after those wsnats sets, so they may override them.
	// Keep the reconnect buffer disabled (nats.ReconnectBufSize(-1), which
	// wsnats sets): a message buffered through an outage is sent after the
	// reconnection, possibly before the other nodes resubscribed, and
	// nobody could count it lost.
	NATS []nats.Option
}

// Broker is a wsevents.Broker over one NATS connection. Create it with
// Connect and give it to one Server in Config.Broker.
type Broker struct {
	nc     *nats.Conn
	prefix string
	msgs   chan *nats.Msg
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	h       wsevents.BrokerHandler
	subs    map[string]*nats.Subscription // by topic
	topics  map[string]string             // topic by subject
	closing bool
}

var _ wsevents.Broker = (*Broker)(nil)

// Connect opens the node's NATS connection to url (a comma-separated list
// for a cluster of NATS servers). It returns once connected; if NATS is
// not reachable yet it returns an error, unless the options include
// nats.RetryOnFailedConnect(true), in which case the node starts as down
// and comes up when NATS does.
func Connect(url string, opts Options) (*Broker, error) {
	b := &Broker{
		prefix: opts.Prefix,
		done:   make(chan struct{}),
		subs:   make(map[string]*nats.Subscription),
		topics: make(map[string]string),
	}
	if b.prefix == "" {
		b.prefix = DefaultPrefix
	}
	pending := opts.Pending
	if pending <= 0 {
		pending = DefaultPending
	}
	b.msgs = make(chan *nats.Msg, pending)
	lo, hi := opts.ReconnectMin, opts.ReconnectMax
	if lo <= 0 {
		lo = DefaultReconnectMin
	}
	if hi < lo {
		hi = max(lo, DefaultReconnectMax)
	}
	natsOpts := []nats.Option{
		nats.Name("wsevents node"),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := lo << min(max(attempts-1, 0), 20)
			if d <= 0 || d > hi {
				d = hi
			}
			return d/2 + rand.N(d/2+1) // 50-100%: nodes do not reconnect in lockstep
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err == nil {
				err = errors.New("nats: disconnected")
			}
			if h := b.handler(); h != nil {
				h.BrokerDown(err)
			}
		}),
		nats.ConnectHandler(func(nc *nats.Conn) { b.restored(nc) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { b.restored(nc) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if h := b.handler(); h != nil {
				h.BrokerError(fmt.Errorf("wsnats: %w", err))
			}
		}),
	}
	nc, err := nats.Connect(url, append(natsOpts, opts.NATS...)...)
	if err != nil {
		return nil, fmt.Errorf("wsnats: connect %s: %w", url, err)
	}
	b.nc = nc
	return b, nil
}

// Conn is the underlying NATS connection (for its statistics; the Broker
// owns it).
func (b *Broker) Conn() *nats.Conn { return b.nc }

// Subject returns the NATS subject a wsevents topic travels on:
// PREFIX.KIND.NAME, where NAME is kept when it is a safe subject token
// (letters, digits, '-', '_') and is otherwise "~" and its base64url form.
func (b *Broker) Subject(topic string) string { return Subject(b.prefix, topic) }

// Subject is Broker.Subject for a given prefix: what to look for in the
// NATS server's subscription list (/subsz).
func Subject(prefix, topic string) string {
	kind, name, ok := strings.Cut(topic, ".")
	if !ok {
		return prefix + "." + kind
	}
	return prefix + "." + kind + "." + token(name)
}

func token(name string) string {
	safe := name != ""
	for i := 0; i < len(name) && safe; i++ {
		c := name[i]
		safe = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if safe {
		return name
	}
	return "~" + base64.RawURLEncoding.EncodeToString([]byte(name))
}

func (b *Broker) handler() wsevents.BrokerHandler {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return nil
	}
	return b.h
}

// restored runs when the connection is (re)established: NATS has resent
// the subscriptions; a round trip makes sure the server applied them.
func (b *Broker) restored(nc *nats.Conn) {
	h := b.handler()
	if h == nil {
		return
	}
	if err := nc.FlushTimeout(confirmTimeout); err != nil {
		h.BrokerError(fmt.Errorf("wsnats: confirming subscriptions after reconnect: %w", err))
	}
	h.BrokerUp()
}

// Open binds the broker to its node and starts delivering.
func (b *Broker) Open(h wsevents.BrokerHandler) error {
	b.mu.Lock()
	b.h = h
	b.mu.Unlock()
	b.wg.Add(1)
	go b.deliver(h)
	if !b.nc.IsConnected() {
		return fmt.Errorf("wsnats: not connected (%s)", b.nc.Status())
	}
	return nil
}

// deliver hands received messages to the node, one at a time and in the
// order NATS delivered them, whatever their subject.
func (b *Broker) deliver(h wsevents.BrokerHandler) {
	defer b.wg.Done()
	for {
		select {
		case m := <-b.msgs:
			b.mu.Lock()
			topic := b.topics[m.Subject]
			b.mu.Unlock()
			h.BrokerMessage(topic, m.Data)
		case <-b.done:
			return
		}
	}
}

// Publish sends data on the topic's subject. While NATS is reconnecting it
// fails at once (no reconnect buffer).
func (b *Broker) Publish(topic string, data []byte) error {
	return b.nc.Publish(b.Subject(topic), data)
}

// Subscribe subscribes the topic's subject and, when connected, waits for
// the server to have applied it. NATS restores it after a reconnection.
func (b *Broker) Subscribe(topic string) error {
	subject := b.Subject(topic)
	b.mu.Lock()
	if _, ok := b.subs[topic]; ok {
		b.mu.Unlock()
		return nil
	}
	sub, err := b.nc.ChanSubscribe(subject, b.msgs)
	if err != nil {
		b.mu.Unlock()
		return fmt.Errorf("wsnats: subscribe %s: %w", subject, err)
	}
	b.subs[topic] = sub
	b.topics[subject] = topic
	b.mu.Unlock()
	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(confirmTimeout); err != nil {
			return fmt.Errorf("wsnats: confirm subscription %s: %w", subject, err)
		}
	}
	return nil
}

// Unsubscribe drops the topic's subscription.
func (b *Broker) Unsubscribe(topic string) error {
	b.mu.Lock()
	sub := b.subs[topic]
	delete(b.subs, topic)
	delete(b.topics, b.Subject(topic))
	b.mu.Unlock()
	if sub == nil {
		return nil
	}
	if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) {
		return fmt.Errorf("wsnats: unsubscribe %s: %w", sub.Subject, err)
	}
	return nil
}

// Close closes the NATS connection and stops delivering.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return nil
	}
	b.closing = true
	b.mu.Unlock()
	b.nc.Close()
	close(b.done)
	b.wg.Wait()
	return nil
}
