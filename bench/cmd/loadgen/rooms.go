package main

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsevents/wsevents/bench/internal/wire"
)

// room is one room of the rooms scenario: its members (connection
// indexes), the completion count of each sequence number in flight and the
// credits of its sender.
type room struct {
	name    string
	members []int
	ring    [64]atomic.Int32
	credits chan struct{}
	sent    atomic.Uint64 // last sequence number sent
	want    []byte        // a delivery's envelope and length, for checks
}

// runRooms: o.conns connections in o.rooms rooms (connection i in room
// i mod o.rooms). Each room has a sender goroutine keeping o.inflight
// messages outstanding in that room; message n of a room is sent by its
// member (n-1) mod members, so every member sends in turn. A message is
// complete when every member has received it (the sender included); each
// member checks that it sees its room's sequence numbers once, in order.
func runRooms(o options, f wire.Format, r *Result) error {
	if o.rooms <= 0 || o.conns%o.rooms != 0 {
		return fmt.Errorf("rooms: -conns %d is not a multiple of -rooms %d", o.conns, o.rooms)
	}
	if o.inflight < 1 || o.inflight > 32 {
		return fmt.Errorf("rooms: -inflight %d out of 1..32", o.inflight)
	}
	rooms := make([]*room, o.rooms)
	for i := range rooms {
		rooms[i] = &room{name: strconv.Itoa(i), credits: make(chan struct{}, o.inflight)}
		rooms[i].want = wire.NewTemplate(f.InRoom(rooms[i].name), o.size, mask).Expected
		for range o.inflight {
			rooms[i].credits <- struct{}{}
		}
	}
	for i := range o.conns {
		rm := rooms[i%o.rooms]
		rm.members = append(rm.members, i)
	}
	conns, err := dialEach(o, func(i int) wire.Format { return f.InRoom(rooms[i%o.rooms].name) }, o.conns)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	// Give every server time to file the last connections in its rooms.
	time.Sleep(300 * time.Millisecond)
	members := int32(o.conns / o.rooms)
	var (
		stop      atomic.Bool
		finished  atomic.Bool
		got       = make([]counter, len(conns))
		errs      errList
		dups, bad atomic.Uint64
		wg        sync.WaitGroup
	)
	for i, c := range conns {
		rm := rooms[i%o.rooms]
		plen := len(f.InRoom(rm.name).ReplyPrefix)
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := uint64(1)
			for {
				_, p, err := c.ReadMessage()
				if err != nil {
					if !finished.Load() {
						errs.add("member %d (room %s): %v", i, rm.name, err)
					}
					return
				}
				seq, ok := wire.ParseSeq(p, plen)
				if !ok || len(p) != len(rm.want) || !bytes.Equal(p[:plen], rm.want[:plen]) {
					bad.Add(1)
					errs.add("member %d (room %s): unexpected message %.40q", i, rm.name, p)
					continue
				}
				switch {
				case seq < next:
					dups.Add(1)
					errs.add("member %d (room %s): message %d again (expected %d)", i, rm.name, seq, next)
					continue
				case seq > next:
					errs.add("member %d (room %s): messages %d..%d missing", i, rm.name, next, seq-1)
				}
				next = seq + 1
				got[i].n.Add(1)
				if rm.ring[seq&63].Add(1) == members {
					rm.ring[seq&63].Store(0)
					rm.credits <- struct{}{}
				}
			}
		}()
	}
	// One sender per room.
	var senders sync.WaitGroup
	for _, rm := range rooms {
		senders.Add(1)
		go func() {
			defer senders.Done()
			t := wire.NewTemplate(f.InRoom(rm.name), o.size, mask)
			timer := time.NewTimer(time.Hour)
			for seq := uint64(1); !stop.Load(); seq++ {
				select {
				case <-rm.credits:
				default:
					timer.Reset(o.timeout)
					select {
					case <-rm.credits:
					case <-timer.C:
						errs.add("room %s stalled: no message completed within %v", rm.name, o.timeout)
						return
					}
				}
				t.SetSeq(seq)
				from := rm.members[int(seq-1)%len(rm.members)]
				if err := conns[from].Write(t.Frame); err != nil {
					errs.add("room %s, message %d from member %d: %v", rm.name, seq, from, err)
					return
				}
				rm.sent.Store(seq)
			}
		}()
	}
	werr := window(o, func() uint64 { return sum(got) }, r)
	stop.Store(true)
	senders.Wait()
	// Wait for the messages in flight to reach every member.
	var expect uint64
	for _, rm := range rooms {
		expect += rm.sent.Load() * uint64(members)
	}
	drain(o, func() uint64 { return sum(got) }, expect)
	time.Sleep(100 * time.Millisecond) // late duplicates show up here
	finished.Store(true)
	r.Sent = expect
	r.Delivered = sum(got)
	if r.Delivered < expect {
		r.Lost = expect - r.Delivered
	}
	r.Duplicated = dups.Load() + bad.Load()
	closeAll(conns)
	wg.Wait()
	errs.into(r)
	return werr
}
