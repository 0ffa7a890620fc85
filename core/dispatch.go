package wsevents

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// checkHandler panics on a handler type On does not take. The type switch
// here and in callHandler is the whole of handler "discovery": no
// reflection runs per message.
func checkHandler(event string, h any) {
	switch h.(type) {
	case func(), func(string), func([]byte), func(int), func(float64), func(bool), func(any),
		func(Message), func(Message) error, func(Message) (any, error):
		return
	}
	panic(fmt.Sprintf("wsevents: On(%q): unsupported handler type %T", event, h))
}

func checkNativeHandler(h any) {
	switch h.(type) {
	case func([]byte), func(string), func(Message):
		return
	}
	panic(fmt.Sprintf("wsevents: OnMessage: unsupported handler type %T", h))
}

// dispatchSafe delivers one complete message; a handler panic becomes a
// 1011 close.
func (c *Conn) dispatchSafe(op byte, data []byte) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = c.handlerPanic(v)
		}
	}()
	return c.dispatch(op, data)
}

func (c *Conn) handlerPanic(v any) error {
	c.srv.stats.panics.Add(1)
	pe := &PanicError{Event: c.curEvent, Value: v, Stack: debug.Stack()}
	c.srv.cfg.Logger.Error("wsevents: handler panic", "conn", c.id, "event", pe.Event, "panic", v, "stack", string(pe.Stack))
	c.reportError(pe)
	return fail(StatusInternalError, "internal error")
}

func (c *Conn) dispatch(op byte, data []byte) error {
	if !c.eventMode {
		kind := KindText
		if op == opBinary {
			kind = KindBinary
		}
		c.deliverNative(kind, data)
		return nil
	}
	h, payload, err := decodeMessage(data)
	if err != nil {
		return fail(StatusProtocolError, err.Error())
	}
	switch h.typ {
	case typeEvent, typeAsk:
		if c.srv.cfg.EventRate > 0 && !c.tokens().take(&c.srv.cfg) {
			if c.srv.cfg.RateLimit == RateLimitClose {
				return fail(StatusPolicyViolation, "event rate limit exceeded")
			}
			if h.typ == typeAsk {
				c.reply(h.id, nil, ErrRateLimited)
			} else {
				c.noticeDropped(string(h.name))
			}
			c.reportError(fmt.Errorf("%w: event %q dropped", ErrRateLimited, h.name))
			return nil
		}
		c.deliverEvent(h, payload)
	case typeReply, typeError:
		c.resolveAsk(h, payload)
	case typeNative:
		c.deliverNative(h.kind, payload)
	case typeCtrl:
		c.controlMessage(string(h.name), payload)
	}
	return nil
}

// ctrlRateLimited is the control message that tells a client the server
// dropped its events under its rate limit (PROTOCOL.md, Control messages).
const ctrlRateLimited = "ratelimited"

type rateLimitedNotice struct {
	Event   string `json:"event"`   // the last event dropped
	Dropped int    `json:"dropped"` // events dropped since the previous notice
}

// noticeDropped tells the client that an event of its was dropped, at
// most once a second (a flood gets no flood back); the notice counts every
// drop since the previous one. Read goroutine only.
func (c *Conn) noticeDropped(event string) {
	b := c.tokens()
	b.dropped++
	now := monoNow()
	if b.noticed != 0 && now-b.noticed < int64(time.Second) {
		return
	}
	b.noticed = now
	data, _ := json.Marshal(rateLimitedNotice{Event: event, Dropped: int(b.dropped)})
	b.dropped = 0
	o := c.srv.encodeBytes(typeCtrl, KindJSON, ctrlRateLimited, data)
	c.send(&o)
	o.done()
}

// controlMessage handles a control message; unknown names are ignored
// (PROTOCOL.md). A client reports the server's rate-limit notice to
// OnError.
func (c *Conn) controlMessage(name string, payload []byte) {
	if name != ctrlRateLimited || !c.client {
		return
	}
	var n rateLimitedNotice
	if json.Unmarshal(payload, &n) != nil {
		return
	}
	c.reportError(fmt.Errorf("%w: the server dropped %d events (the last: %q)", ErrRateLimited, n.Dropped, n.Event))
}

func (c *Conn) deliverNative(kind Kind, data []byte) {
	c.hs.mu.Lock()
	hs := c.hs.onMessage
	c.hs.mu.Unlock()
	c.curEvent = ""
	for _, h := range hs {
		switch fn := h.(type) {
		case func([]byte):
			fn(append([]byte(nil), data...))
		case func(string):
			fn(string(data))
		case func(Message):
			fn(Message{Kind: kind, Data: append([]byte(nil), data...)})
		}
	}
}

func (c *Conn) deliverEvent(h header, payload []byte) {
	var (
		event string
		hs    []any
	)
	c.hs.mu.Lock()
	e := c.hs.handlers[string(h.name)]
	if e != nil {
		event, hs = e.name, e.fns // the stored name: no allocation per message
	}
	c.hs.mu.Unlock()
	if e == nil {
		event = string(h.name)
	}
	c.curEvent = event
	if h.typ == typeAsk {
		c.answer(h.id, event, hs, h.kind, payload)
		return
	}
	if e == nil {
		c.reportError(fmt.Errorf("%w %q", ErrNoHandler, event))
		return
	}
	for _, fn := range hs {
		if _, _, err := callHandler(fn, event, h.kind, payload, false); err != nil {
			c.reportError(err)
		}
	}
}

// handlerSet holds a connection's handlers. The read loop copies a slice
// header under mu and iterates without it: slices are only appended to
// copy-on-write.
type handlerSet struct {
	mu           sync.Mutex
	handlers     map[string]*eventHandlers
	onMessage    []any
	onDisconnect []func()
	onError      []func(error)
	rare         *rareHooks // nil until one is registered
}

// rareHooks are the hooks few connections register, kept apart so that a
// connection without them (nearly every one) does not carry their slices.
type rareHooks struct {
	onPing, onPong []func()
	onLeave        []func(string)
}

// rareHooks returns hs.rare, made if need be; hs.mu held.
func (hs *handlerSet) rareHooks() *rareHooks {
	if hs.rare == nil {
		hs.rare = new(rareHooks)
	}
	return hs.rare
}

func (hs *handlerSet) on(event string, handler any) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.handlers == nil {
		hs.handlers = make(map[string]*eventHandlers)
	}
	e := hs.handlers[event]
	if e == nil {
		e = &eventHandlers{name: event}
		hs.handlers[event] = e
	}
	e.fns = append(e.fns[:len(e.fns):len(e.fns)], handler)
}

// eventHandlers are the handlers of one event.
type eventHandlers struct {
	name string
	fns  []any
}

// answer runs the handlers of an asked event and sends exactly one reply.
func (c *Conn) answer(id uint64, event string, hs []any, kind Kind, payload []byte) {
	if len(hs) == 0 {
		c.reply(id, nil, fmt.Errorf("%w %q", ErrNoHandler, event))
		return
	}
	var (
		result  any
		replied bool
		rerr    error
	)
	for _, fn := range hs {
		res, ans, err := callHandler(fn, event, kind, payload, true)
		if replied {
			if err != nil {
				c.reportError(err)
			}
			continue
		}
		if ans || err != nil {
			result, rerr, replied = res, err, true
		}
	}
	c.reply(id, result, rerr)
}

func (c *Conn) reply(id uint64, result any, err error) {
	var (
		o    outgoing
		eerr error
	)
	if err != nil {
		o, eerr = c.srv.encodeEvent(typeError, id, "", err.Error())
	} else {
		o, eerr = c.srv.encodeEvent(typeReply, id, "", result)
	}
	if eerr != nil {
		o, _ = c.srv.encodeEvent(typeError, id, "", eerr.Error())
	}
	c.send(&o)
	o.done()
}

// callHandler calls one handler with the payload converted to its
// parameter type. answered reports whether the handler is an answering one.
func callHandler(h any, event string, kind Kind, payload []byte, asked bool) (result any, answered bool, err error) {
	switch fn := h.(type) {
	case func():
		fn()
	case func(string):
		fn(string(payload))
	case func([]byte):
		fn(append([]byte(nil), payload...))
	case func(Message):
		fn(Message{Event: event, Kind: kind, Data: append([]byte(nil), payload...), Asked: asked})
	case func(Message) error:
		// The handler's own error goes out as is: it may be an Ask's answer.
		return nil, false, fn(Message{Event: event, Kind: kind, Data: append([]byte(nil), payload...), Asked: asked})
	case func(Message) (any, error):
		result, err = fn(Message{Event: event, Kind: kind, Data: append([]byte(nil), payload...), Asked: asked})
		return result, true, err
	case func(int):
		var n int
		if n, err = strconv.Atoi(string(payload)); err == nil {
			fn(n)
		}
	case func(float64):
		var f float64
		if f, err = strconv.ParseFloat(string(payload), 64); err == nil {
			fn(f)
		}
	case func(bool):
		var b bool
		if b, err = strconv.ParseBool(string(payload)); err == nil {
			fn(b)
		}
	case func(any):
		var v any
		switch kind {
		case KindText:
			v = string(payload)
		case KindBinary:
			v = append([]byte(nil), payload...)
		default:
			err = json.Unmarshal(payload, &v)
		}
		if err == nil {
			fn(v)
		}
	}
	if err != nil {
		err = fmt.Errorf("wsevents: event %q: %w", event, err)
	}
	return result, answered, err
}

// tokenBucket is the per-connection event rate limiter; only the read
// goroutine touches it.
// tokenBucket is a connection's event rate limit, with the state of its
// drop notices; times are monoNow values (0: never).
type tokenBucket struct {
	tokens  float64
	last    int64
	noticed int64  // when the last drop notice went out
	dropped uint32 // drops since then
}

// monoBase is the origin of monoNow: times that fit in an int64 and follow
// the monotonic clock.
var monoBase = time.Now()

func monoNow() int64 { return int64(time.Since(monoBase)) + 1 }

// tokens is the connection's bucket, made at its first use.
func (c *Conn) tokens() *tokenBucket {
	if c.bucket == nil {
		c.bucket = new(tokenBucket)
	}
	return c.bucket
}

func (b *tokenBucket) take(cfg *Config) bool {
	now := monoNow()
	if b.last == 0 {
		b.tokens = float64(cfg.EventBurst)
	} else {
		b.tokens = min(float64(cfg.EventBurst), b.tokens+time.Duration(now-b.last).Seconds()*cfg.EventRate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type askResult struct {
	msg Message
	err error
}

// Ask sends an event and waits for the peer's answer, the peer's error
// (a *RemoteError), ctx's end or the connection's end. Do not Ask a
// connection from inside its own handler: the answer is read by the
// goroutine the handler is holding. Start a goroutine for it.
func (c *Conn) Ask(ctx context.Context, event string, data any) (Message, error) {
	if !c.eventMode {
		return Message{}, ErrNativeConnection
	}
	if !validEventName(event) {
		return Message{}, fmt.Errorf("%w: %q", ErrInvalidEvent, event)
	}
	id := c.askID.Add(1)
	o, err := c.srv.encodeEvent(typeAsk, id, event, data)
	if err != nil {
		return Message{}, err
	}
	ch := make(chan askResult, 1)
	c.mu.Lock()
	if c.state.Load() != stateOpen {
		c.mu.Unlock()
		o.done()
		return Message{}, ErrClosed
	}
	if c.pending == nil {
		c.pending = make(map[uint64]chan askResult)
	}
	c.pending[id] = ch
	c.mu.Unlock()
	err = c.send(&o)
	o.done()
	if err == nil {
		select {
		case r := <-ch:
			if r.err == nil {
				r.msg.Event = event
			} else if re, ok := r.err.(*RemoteError); ok {
				re.Event = event
			}
			return r.msg, r.err
		case <-ctx.Done():
			err = ctx.Err()
		case <-c.ctx.Done():
			err = ErrClosed
		}
	}
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
	return Message{}, err
}

func (c *Conn) resolveAsk(h header, payload []byte) {
	c.mu.Lock()
	ch, ok := c.pending[h.id]
	delete(c.pending, h.id)
	c.mu.Unlock()
	if !ok {
		return // timed out or never asked: PROTOCOL.md says ignore
	}
	data := append([]byte(nil), payload...)
	if h.typ == typeError {
		ch <- askResult{err: &RemoteError{Message: string(data)}}
		return
	}
	ch <- askResult{msg: Message{Kind: h.kind, Data: data}}
}

// failAsks ends every pending Ask of a closed connection.
func (c *Conn) failAsks() {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, ch := range pending {
		ch <- askResult{err: ErrClosed}
	}
}
