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
package soak

import (
	"strconv"
	"time"

	wsevents "github.com/wsevents/wsevents/core"
)

// Events from the clients to the server.
const (
	EvJoin  = "join"  // payload: room name
	EvLeave = "leave" // payload: room name
	EvPub   = "pub"   // payload: room|seq|pad, relayed to the room's other members
	EvDone  = "done"  // the connection sends nothing more
)

// Events from the server to the clients.
const (
	EvRoomMsg   = "m"     // room|roomseq|sender|seq|pad
	EvBroadcast = "b"     // seq|pad, to every connection
	EvFlood     = "f"     // seq|pad, bursts to FloodRoom
	EvFence     = "fence" // the last message a connection gets
)

// FloodRoom receives the server's bursts; its members are the slow
// readers (and a few fast ones), so the slow-consumer policy has work.
const FloodRoom = "flood"

// Senders that are not connections.
const (
	SenderBroadcast = -1
	SenderFlood     = -2
)

// RoomName is the name of room i.
func RoomName(i int) string { return "r" + strconv.Itoa(i) }

// ConnID is the connection ID of connection i (the server's IDGenerator
// takes it from the "id" query parameter).
func ConnID(i int) string { return "c" + strconv.Itoa(i) }

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

// ConnCount is one connection's counters on the server.
type ConnCount struct {
	Idx      int    `json:"i"`
	Expected uint64 `json:"e"` // messages addressed to it
	Dropped  uint64 `json:"d"` // of those, dropped by the slow-consumer policy
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
	Expected    uint64         `json:"expected"`   // deliveries addressed, all connections
	HookCalls   uint64         `json:"hook_calls"` // OnSlowConsumer calls
	Disconnects uint64         `json:"disconnects"`
	Unsound     uint64         `json:"unsound"` // broadcasts while the connection set was changing
	FenceErrors uint64         `json:"fence_errors"`
	Stats       wsevents.Stats `json:"stats"`
	Samples     []MemSample    `json:"samples"`
}

// ClientConn is one connection's counters in a client process.
type ClientConn struct {
	Idx      int    `json:"i"`
	Received uint64 `json:"r"`
	Fenced   bool   `json:"f"`
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
	FirstErrors []string     `json:"first_errors,omitempty"`
}

// Timeouts shared by the processes.
const (
	// WriteWait bounds a client's write.
	WriteWait = 10 * time.Second
)
