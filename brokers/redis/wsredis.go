package wsredis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	wsevents "github.com/wsevents/wsevents/core"
)

// Defaults of Options.
const (
	DefaultPrefix       = "wsevents"
	DefaultReconnectMin = 100 * time.Millisecond
	DefaultReconnectMax = 5 * time.Second
	// DefaultTimeout bounds each command the broker sends: a publication, a
	// subscription's confirmation, the probe of a reconnection.
	DefaultTimeout = 2 * time.Second
)

// Options configures New. The zero value is a good configuration.
type Options struct {
	// Prefix starts every channel name ("PREFIX:all", "PREFIX:room.NAME"):
	// nodes sharing a Redis server talk to each other only when their
	// prefixes match. Default "wsevents".
	Prefix string

	// ReconnectMin and ReconnectMax bound the wait between attempts to
	// reconnect the subscription connection: it doubles from ReconnectMin
	// up to ReconnectMax, with jitter, and attempts never stop. Defaults
	// 100ms and 5s.
	ReconnectMin, ReconnectMax time.Duration

	// Timeout bounds each command; default 2s.
	Timeout time.Duration
}

// Broker is a wsevents.Broker over Redis Pub/Sub. Create it with New and
// give it to one Server in Config.Broker.
//
// A node uses two Redis connections: one held by the subscription (Redis
// lets a subscribed connection do nothing but subscribe) and one from the
// client's pool for publishing, which one goroutine of the node does.
type Broker struct {
	client redis.UniversalClient
	opts   Options
	prefix string
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	ps      *redis.PubSub
	waiting map[string][]chan struct{} // subscriptions awaiting Redis's confirmation
}

var (
	_ wsevents.Broker         = (*Broker)(nil)
	_ wsevents.BatchPublisher = (*Broker)(nil)
)

// New returns a Broker for one node over client. The client stays the
// caller's: Close (called by Server.Shutdown) ends the subscription
// connection, not the client.
func New(client redis.UniversalClient, opts Options) *Broker {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = DefaultReconnectMin
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(opts.ReconnectMin, DefaultReconnectMax)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	b := &Broker{client: client, opts: opts, prefix: opts.Prefix + ":", waiting: make(map[string][]chan struct{})}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Channel returns the Redis channel a wsevents topic travels on (what
// PUBSUB NUMSUB takes). Redis channel names are binary-safe: the topic is
// kept as is.
func (b *Broker) Channel(topic string) string { return b.prefix + topic }

// Channel is Broker.Channel for a given prefix.
func Channel(prefix, topic string) string { return prefix + ":" + topic }

// Open binds the broker to its node: it checks that Redis answers and
// starts receiving. When Redis does not answer, the node starts as down
// and the broker keeps trying.
func (b *Broker) Open(h wsevents.BrokerHandler) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
	err := b.client.Ping(ctx).Err()
	cancel()
	b.mu.Lock()
	b.ps = b.client.Subscribe(b.ctx) // no channel yet: connects on first use
	b.mu.Unlock()
	b.wg.Add(1)
	go b.receive(h, err == nil)
	if err != nil {
		return fmt.Errorf("wsredis: %w", err)
	}
	return nil
}

// pongMark tells the probe of a reconnection from other pongs.
const pongMark = "wsevents-resubscribed"

// receive reads the subscription connection. When it fails, the node is
// told, and the connection is probed with backoff: go-redis reconnects
// and resubscribes every channel before the probe's PING, so its pong
// means every subscription is back.
func (b *Broker) receive(h wsevents.BrokerHandler, up bool) {
	defer b.wg.Done()
	delay := b.opts.ReconnectMin
	for {
		msg, err := b.ps.Receive(b.ctx)
		if b.ctx.Err() != nil {
			return
		}
		if err != nil {
			if up {
				up = false
				h.BrokerDown(err)
			}
			for {
				wait := delay/2 + rand.N(delay/2+1)
				delay = min(2*delay, b.opts.ReconnectMax)
				select {
				case <-b.ctx.Done():
					return
				case <-time.After(wait):
				}
				ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
				err := b.ps.Ping(ctx, pongMark)
				cancel()
				if err == nil || b.ctx.Err() != nil {
					break
				}
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Message:
			h.BrokerMessage(strings.TrimPrefix(m.Channel, b.prefix), []byte(m.Payload))
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.mu.Lock()
				ws := b.waiting[m.Channel]
				delete(b.waiting, m.Channel)
				b.mu.Unlock()
				for _, w := range ws {
					close(w)
				}
			}
		case *redis.Pong:
			if m.Payload == pongMark && !up {
				up = true
				delay = b.opts.ReconnectMin
				h.BrokerUp()
			}
		}
	}
}

// Publish sends data on the topic's channel.
func (b *Broker) Publish(topic string, data []byte) error {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
	defer cancel()
	return b.client.Publish(ctx, b.Channel(topic), data).Err()
}

// PublishBatch publishes the batch in one pipeline: one round trip to
// Redis for every message the node has queued (wsevents.BatchPublisher).
func (b *Broker) PublishBatch(batch []wsevents.Publication) (int, error) {
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
	defer cancel()
	pipe := b.client.Pipeline()
	for _, p := range batch {
		pipe.Publish(ctx, b.Channel(p.Topic), p.Data)
	}
	cmds, err := pipe.Exec(ctx)
	for i, cmd := range cmds {
		if cmd.Err() != nil {
			return i, cmd.Err()
		}
	}
	if err != nil || len(cmds) < len(batch) {
		return len(cmds), fmt.Errorf("wsredis: publish: %w", err)
	}
	return len(batch), nil
}

// Subscribe subscribes the topic's channel and waits for Redis to confirm
// it. The subscription is kept, and restored after a reconnection, even
// when this fails.
func (b *Broker) Subscribe(topic string) error {
	channel := b.Channel(topic)
	confirmed := make(chan struct{})
	b.mu.Lock()
	ps := b.ps
	b.waiting[channel] = append(b.waiting[channel], confirmed)
	b.mu.Unlock()
	if ps == nil {
		return errors.New("wsredis: not open")
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
	defer cancel()
	if err := ps.Subscribe(ctx, channel); err != nil {
		return fmt.Errorf("wsredis: subscribe %s: %w", channel, err)
	}
	select {
	case <-confirmed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wsredis: subscribe %s: not confirmed: %w", channel, ctx.Err())
	}
}

// Unsubscribe drops the topic's channel.
func (b *Broker) Unsubscribe(topic string) error {
	b.mu.Lock()
	ps := b.ps
	b.mu.Unlock()
	if ps == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(b.ctx, b.opts.Timeout)
	defer cancel()
	if err := ps.Unsubscribe(ctx, b.Channel(topic)); err != nil {
		return fmt.Errorf("wsredis: unsubscribe %s: %w", topic, err)
	}
	return nil
}

// Close ends the subscription connection and the receiving goroutine. The
// client stays open.
func (b *Broker) Close() error {
	b.cancel()
	b.mu.Lock()
	ps := b.ps
	b.mu.Unlock()
	var err error
	if ps != nil {
		err = ps.Close()
	}
	b.wg.Wait()
	if errors.Is(err, redis.ErrClosed) {
		err = nil
	}
	return err
}
