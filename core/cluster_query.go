package wsevents

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Ask sends an event to the connection with this ID, on this node or, with
// a Broker, on any node, and waits for its answer (see Conn.Ask). When no
// node has the connection, Ask returns when ctx ends: give it a deadline.
func (s *Server) Ask(ctx context.Context, id, event string, data any) (Message, error) {
	if c, ok := s.Get(id); ok {
		return c.Ask(ctx, event, data)
	}
	cl := s.clusterOn()
	if cl == nil {
		return Message{}, ErrNoConnection
	}
	if !validEventName(event) {
		return Message{}, fmt.Errorf("%w: %q", ErrInvalidEvent, event)
	}
	if !cl.up.Load() {
		return Message{}, ErrBrokerDown
	}
	o, err := s.encodeEvent(typeEvent, 0, event, data)
	if err != nil {
		return Message{}, err
	}
	var deadline uint64
	if d, ok := ctx.Deadline(); ok {
		deadline = uint64(max(d.UnixMilli(), 1))
	}
	req := cl.reqID.Add(1)
	ch := make(chan askResult, 1)
	cl.mu.Lock()
	if cl.closed.Load() {
		cl.mu.Unlock()
		o.done()
		return Message{}, ErrServerClosed
	}
	cl.asks[req] = ch
	cl.mu.Unlock()
	cl.send(topicAll, appendEnvelope(nil, envAsk, cl.node, id, "", req, deadline, o.msg.body()))
	o.done()
	select {
	case r := <-ch:
		if r.err == nil {
			r.msg.Event = event
		} else if re, ok := r.err.(*RemoteError); ok {
			re.Event = event
		}
		return r.msg, r.err
	case <-ctx.Done():
		cl.mu.Lock()
		delete(cl.asks, req)
		cl.mu.Unlock()
		return Message{}, ctx.Err()
	}
}

// serveAsk asks a local connection for another node and sends the answer
// back to that node's topic.
func (cl *cluster) serveAsk(e envelope) {
	c, ok := cl.s.Get(string(e.target))
	if !ok {
		return // another node's connection, or gone: its node answers
	}
	h, payload, err := decodeMessage(e.body)
	if err != nil || h.typ != typeEvent {
		cl.undecodable.Add(1)
		return
	}
	event := string(h.name)
	msg := Message{Kind: h.kind, Data: append([]byte(nil), payload...)}
	origin, req := string(e.origin), e.req
	ctx, cancel := cl.ctx, context.CancelFunc(func() {})
	if e.deadline != 0 {
		ctx, cancel = context.WithDeadline(cl.ctx, time.UnixMilli(int64(e.deadline)))
	}
	cl.mu.Lock()
	if cl.closed.Load() {
		cl.mu.Unlock()
		cancel()
		return
	}
	cl.wg.Add(1) // under mu, so never after close began to Wait
	cl.mu.Unlock()
	go func() {
		defer cl.wg.Done()
		defer cancel()
		answer, err := c.Ask(ctx, event, msg)
		var (
			o    outgoing
			eerr error
			text string
		)
		var re *RemoteError
		switch {
		case err == nil:
			o, eerr = cl.s.encodeEvent(typeReply, req, "", answer)
		case errors.As(err, &re):
			o, eerr = cl.s.encodeEvent(typeError, req, "", re.Message)
		default:
			text = err.Error()
		}
		var body []byte
		if eerr != nil {
			text = eerr.Error()
		} else if text == "" {
			body = o.msg.body()
		}
		env := appendEnvelope(nil, envReply, cl.node, text, "", req, 0, body)
		if body != nil {
			o.done()
		}
		cl.send(topicNodePfx+origin, env)
	}()
}

// resolveAsk hands another node's answer to the waiting Server.Ask.
func (cl *cluster) resolveAsk(e envelope) {
	cl.mu.Lock()
	ch := cl.asks[e.req]
	delete(cl.asks, e.req)
	cl.mu.Unlock()
	if ch == nil {
		return
	}
	if len(e.body) == 0 {
		ch <- askResult{err: errorFromText(string(e.target))}
		return
	}
	h, payload, err := decodeMessage(e.body)
	if err != nil {
		ch <- askResult{err: err}
		return
	}
	data := append([]byte(nil), payload...)
	if h.typ == typeError {
		ch <- askResult{err: &RemoteError{Message: string(data)}}
		return
	}
	ch <- askResult{msg: Message{Kind: h.kind, Data: data}}
}

// errorFromText turns the text of an error another node met while asking
// its connection back into this package's sentinel where there is one.
func errorFromText(text string) error {
	for _, e := range []error{ErrClosed, ErrServerClosed, ErrNativeConnection, ErrQueueFull, ErrInvalidEvent, context.DeadlineExceeded, context.Canceled} {
		if text == e.Error() {
			return e
		}
	}
	return errors.New(text)
}

// ClusterRoomLen returns the number of members of a room on every node:
// this node's count plus the answers of the other nodes it knows of. It
// returns when all of them answered, or with the sum so far and an error
// wrapping ErrClusterIncomplete when ctx ends first (after
// DefaultClusterTimeout when ctx has no deadline). Without a Broker it is
// RoomLen.
func (s *Server) ClusterRoomLen(ctx context.Context, room string) (int, error) {
	n := s.RoomLen(room)
	cl := s.clusterOn()
	if cl == nil {
		return n, nil
	}
	if !cl.up.Load() {
		return n, fmt.Errorf("%w: %w", ErrClusterIncomplete, ErrBrokerDown)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultClusterTimeout)
		defer cancel()
	}
	req := cl.reqID.Add(1)
	r := &countRequest{waiting: make(map[string]bool), done: make(chan struct{})}
	cl.mu.Lock()
	for node := range cl.nodes {
		r.waiting[node] = true
	}
	asked := len(r.waiting)
	if asked == 0 || cl.closed.Load() {
		cl.mu.Unlock()
		return n, nil
	}
	cl.counts[req] = r
	cl.mu.Unlock()
	cl.send(topicAll, appendEnvelope(nil, envCount, cl.node, room, "", req, 0, nil))
	var err error
	select {
	case <-r.done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	cl.mu.Lock()
	delete(cl.counts, req)
	n += r.sum
	missing := len(r.waiting)
	cl.mu.Unlock()
	if missing > 0 {
		if err == nil {
			err = ErrServerClosed
		}
		return n, fmt.Errorf("%w: %d of %d nodes did not answer: %w", ErrClusterIncomplete, missing, asked, err)
	}
	return n, nil
}

// JoinCluster connects the node to its Broker now, so that the other nodes
// know it before its first client; otherwise that happens with its first
// connection, emit or cluster query (New starts no goroutine). The node
// then says hello and answers the others' queries. Without a Broker it
// does nothing. Shutdown leaves the cluster.
func (s *Server) JoinCluster() { s.clusterOn() }

// ClusterNodes lists the IDs of the other nodes this node heard from
// recently, sorted; nil without a Broker.
func (s *Server) ClusterNodes() []string {
	cl := s.clusterOn()
	if cl == nil {
		return nil
	}
	cl.mu.Lock()
	nodes := make([]string, 0, len(cl.nodes))
	for n := range cl.nodes {
		nodes = append(nodes, n)
	}
	cl.mu.Unlock()
	sort.Strings(nodes)
	return nodes
}

func (cl *cluster) stats() BrokerStats {
	cl.mu.Lock()
	nodes := len(cl.nodes)
	cl.mu.Unlock()
	return BrokerStats{
		Node:          cl.node,
		Up:            cl.up.Load() && cl.started.Load(),
		Nodes:         nodes,
		Subscriptions: int(cl.nsubs.Load()),
		Published:     cl.published.Load(),
		Received:      cl.received.Load(),
		Lost:          cl.lost.Load(),
		Outages:       cl.outages.Load(),
		Undecodable:   cl.undecodable.Load(),
	}
}
