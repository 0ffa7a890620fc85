// Package soak is a bounded load test of a wsevents server: one server
// process (cmd/soakserver), several client processes (cmd/soakclient)
// holding thousands of WebSocket connections each, and a driver (Run,
// cmd/soak) that starts them, runs rooms, relayed emits, broadcasts and
// room churn for a while, and then proves with counters that every message
// a connection should have received arrived exactly once and in order,
// except those the server's slow-consumer policy dropped and counted.
//
// How the check is exact: every message carries its sender and the
// sender's sequence number. The server application sequences each room's
// membership changes and emits under one lock per room, so for every
// message it knows exactly which connections it was addressed to, and
// counts per connection what it addressed ("expected"). The core counts
// per connection what its slow-consumer policy dropped (Conn.Dropped). The
// clients count what arrived. At the end a fence message, queued behind
// everything else on every connection, tells each client that nothing
// more is coming; then for every connection
//
//	expected == received + dropped
//
// and every receiver has seen each sender's sequence numbers strictly
// increasing (no duplicate, no reordering).
//
// Connection churn keeps the same accounting per connection incarnation.
// A churning client connection says goodbye (EvGoodbye); the server, under
// the same locks that sequence membership changes and emits, takes it out
// of its rooms and of AllRoom, so nothing more is addressed to it, and
// queues a farewell (EvFarewell) carrying what it addressed and what the
// policy dropped. The client reads up to the farewell, checks
//
//	addressed == received + dropped
//
// for that incarnation, closes with 1000 and reconnects under a new
// connection ID (the next generation of the same index), rejoining its
// rooms. A sender's sequence numbers continue across its incarnations, so
// receivers check its order across the reconnect too. The server counts
// these clean leaves apart from unexpected disconnects, which still fail
// the run.
package soak

import (
	"strconv"
	"strings"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

// Events from the clients to the server.
const (
	EvJoin  = "join"  // payload: room name
	EvLeave = "leave" // payload: room name
	EvPub   = "pub"   // payload: room|seq|pad, relayed to the room's other members
	EvDone  = "done"  // the connection sends nothing more

	// EvGoodbye is a clean leave: the server stops addressing the
	// connection and answers with EvFarewell; the client then closes
	// with 1000.
	EvGoodbye = "goodbye"
)

// Events from the server to the clients.
const (
	EvRoomMsg   = "m"     // room|roomseq|sender|seq|pad
	EvBroadcast = "b"     // seq|pad, to every connection
	EvFlood     = "f"     // seq|pad, bursts to FloodRoom
	EvFence     = "fence" // the last message a connection gets

	// EvFarewell is the last message a connection that said goodbye
	// gets: "addressed|dropped", where addressed counts every message
	// the server addressed to this connection, the farewell included,
	// and dropped those the slow-consumer policy dropped.
	EvFarewell = "farewell"
)

// FloodRoom receives the server's bursts; its members are the slow
// readers (and a few fast ones), so the slow-consumer policy has work.
const FloodRoom = "flood"

// AllRoom holds every connection that has not said goodbye. The server's
// broadcasts go to it rather than to wsevents.All, which would still
// address a connection between its goodbye and its close.
const AllRoom = "everyone"

// Senders that are not connections.
const (
	SenderBroadcast = -1
	SenderFlood     = -2
)

// RoomName is the name of room i.
func RoomName(i int) string { return "r" + strconv.Itoa(i) }

// ConnID is the connection ID of generation gen of connection i: "c<i>"
// for the first, "c<i>.<gen>" for its reconnects after churn (the
// server's IDGenerator takes it from the "id" query parameter).
func ConnID(i, gen int) string {
	if gen == 0 {
		return "c" + strconv.Itoa(i)
	}
	return "c" + strconv.Itoa(i) + "." + strconv.Itoa(gen)
}

// ParseConnID is the inverse of ConnID; ok is false for other IDs.
func ParseConnID(id string) (i, gen int, ok bool) {
	s, found := strings.CutPrefix(id, "c")
	if !found {
		return 0, 0, false
	}
	s, g, churned := strings.Cut(s, ".")
	i, err := strconv.Atoi(s)
	if err != nil {
		return 0, 0, false
	}
	if churned {
		if gen, err = strconv.Atoi(g); err != nil || gen <= 0 {
			return 0, 0, false
		}
	}
	return i, gen, true
}

// AppendPad appends n bytes of padding that depend on sender and seq, so a
// receiver can check the payload arrived intact.
func AppendPad(b []byte, sender int, seq uint64, n int) []byte {
	ch := padByte(sender, seq)
	for range n {
		b = append(b, ch)
	}
	return b
}

// CheckPad reports whether p is padding of sender's message seq.
func CheckPad(p []byte, sender int, seq uint64) bool {
	ch := padByte(sender, seq)
	for _, b := range p {
		if b != ch {
			return false
		}
	}
	return true
}

func padByte(sender int, seq uint64) byte {
	return byte('a' + (uint64(sender+3)*31+seq)%26)
}

// ConnCount is one connection incarnation's counters on the server.
type ConnCount struct {
	Idx      int    `json:"i"`
	Gen      int    `json:"g,omitempty"` // generation: reconnects before this one
	Expected uint64 `json:"e"`           // messages addressed to it
	Dropped  uint64 `json:"d"`           // of those, dropped by the slow-consumer policy
	Left     bool   `json:"l,omitempty"` // said goodbye and got its farewell
}

// MemSample is one sample of the server's memory.
type MemSample struct {
	T          float64 `json:"t"` // seconds since traffic started
	RSS        uint64  `json:"rss"`
	HeapInuse  uint64  `json:"heap"`      // runtime.MemStats.HeapInuse: live objects and garbage not yet collected
	HeapLive   uint64  `json:"heap_live"` // heap marked live by the last GC (/gc/heap/live:bytes)
	Goroutines int     `json:"g"`
	Conns      int     `json:"conns"`
}

// ServerReport is what the server answers on /control/report once every
// connection got its fence.
type ServerReport struct {
	Conns       []ConnCount    `json:"conns"`
	Pubs        uint64         `json:"pubs"`       // client messages relayed to rooms
	Broadcasts  uint64         `json:"broadcasts"` // server broadcasts
	FloodMsgs   uint64         `json:"flood"`      // server messages to FloodRoom
	Fences      uint64         `json:"fences"`     // fence emits, retries included
	Joins       uint64         `json:"joins"`
	Leaves      uint64         `json:"leaves"`
	JoinErrors  uint64         `json:"join_errors"`
	Expected    uint64         `json:"expected"`     // deliveries addressed, all connections
	HookCalls   uint64         `json:"hook_calls"`   // OnSlowConsumer calls
	Disconnects uint64         `json:"disconnects"`  // unexpected: without a goodbye
	Goodbyes    uint64         `json:"goodbyes"`     // goodbyes handled, farewells queued
	CleanLeaves uint64         `json:"clean_leaves"` // disconnects after a farewell
	Unsound     uint64         `json:"unsound"`      // broadcasts while the connection set was changing
	FenceErrors uint64         `json:"fence_errors"`
	Stats       wsevents.Stats `json:"stats"`
	Samples     []MemSample    `json:"samples"`
}

// ClientConn is one connection incarnation's counters in a client
// process.
type ClientConn struct {
	Idx      int    `json:"i"`
	Gen      int    `json:"g,omitempty"`
	Received uint64 `json:"r"`
	Fenced   bool   `json:"f"`           // got its last message: the fence, or the farewell if Left
	Left     bool   `json:"l,omitempty"` // said goodbye (then reconnected as Gen+1)
}

// ClientReport is the last thing a client process prints before it
// closes its connections.
type ClientReport struct {
	Proc        int          `json:"proc"`
	Conns       []ClientConn `json:"conns"`
	Pubs        uint64       `json:"pubs"`
	Joins       uint64       `json:"joins"`
	Leaves      uint64       `json:"leaves"`
	Received    uint64       `json:"received"`
	OutOfOrder  uint64       `json:"out_of_order"`      // a sender's seq that did not increase
	RoomOrder   uint64       `json:"room_out_of_order"` // a room's seq that did not increase
	BadPayload  uint64       `json:"bad_payload"`
	Pauses      uint64       `json:"pauses"` // slow readers' pauses
	ConnErrors  uint64       `json:"conn_errors"`
	Reconnects  uint64       `json:"reconnects"` // churn: clean leaves followed by a new connection
	FirstErrors []string     `json:"first_errors,omitempty"`
}

// Timeouts shared by the processes.
const (
	// WriteWait bounds a client's write.
	WriteWait = 10 * time.Second
)
