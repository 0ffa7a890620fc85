package wsevents

import (
	"sync"
	"time"
)

// Keepalive runs on one goroutine per Server, not on a timer per
// connection: a runtime timer costs about 240 bytes, a wheel entry 8, and
// an idle connection should cost as little as possible. The goroutine lives
// only while some connection of the Server has keepalive on.
//
// Time is cut into ticks of a quarter of the shortest keepalive delay
// (PingPeriod, PongTimeout, and PingPeriod-PongTimeout when positive), at
// least minKeepaliveTick. A connection sits in the wheel slot of the tick
// its next step is due at; each tick the goroutine takes one slot's
// connections and, outside any lock, pings them or closes them with 1001
// when nothing arrived since their last ping (Conn.keepaliveStep). A step
// is never early and at most about one tick late.

const minKeepaliveTick = 5 * time.Millisecond

type keepalive struct {
	mu      sync.Mutex
	tick    time.Duration
	base    time.Time
	cur     int64         // the last tick processed
	slots   [][]*Conn     // slot i holds the connections due at ticks ≡ i (mod len)
	count   int           // connections with keepalive on
	running bool          // the goroutine is running
	stop    chan struct{} // the last connection left
	batch   []*Conn       // the goroutine's scratch space
	next    []time.Duration
}

// Positions of a connection in its server's keepalive wheel (Conn.kaSlot).
const (
	kaOff      = -1 // not in the wheel (never was, or finished)
	kaStepping = -2 // taken out by the goroutine for its step
)

func (k *keepalive) init(cfg *Config) {
	shortest := cfg.PingPeriod
	longest := cfg.PingPeriod
	if pt := cfg.PongTimeout; pt > 0 {
		shortest, longest = min(shortest, pt), max(longest, pt)
		if rest := cfg.PingPeriod - pt; rest > 0 {
			shortest = min(shortest, rest)
		}
	}
	k.tick = max(shortest/4, minKeepaliveTick)
	// A step is at most longest ahead: ceil(longest/tick) ticks, one more
	// for the tick under way, one to never wrap onto the current slot.
	k.slots = make([][]*Conn, int((longest+k.tick-1)/k.tick)+2)
	k.stop = make(chan struct{}, 1)
}

// add puts c into the wheel, its first ping PingPeriod from now.
func (k *keepalive) add(c *Conn, first time.Duration) {
	k.mu.Lock()
	if k.count == 0 && !k.running {
		k.base = time.Now()
		k.cur = 0
	}
	k.count++
	c.kaOn = true
	k.schedule(c, first)
	if !k.running {
		k.running = true
		go k.loop()
	}
	k.mu.Unlock()
}

// remove takes c out of the wheel for good (from finish).
func (k *keepalive) remove(c *Conn) {
	k.mu.Lock()
	if c.kaOn {
		c.kaOn = false
		k.unslot(c)
		c.kaSlot = kaOff
		k.count--
		if k.count == 0 {
			select {
			case k.stop <- struct{}{}:
			default:
			}
		}
	}
	k.mu.Unlock()
}

// schedule puts c in the slot of the first tick that starts at least d
// from now. k.mu held.
func (k *keepalive) schedule(c *Conn, d time.Duration) {
	now := int64(time.Since(k.base) / k.tick)
	due := now + int64((d+k.tick-1)/k.tick) + 1
	i := int(due % int64(len(k.slots)))
	c.kaSlot, c.kaPos, c.kaDue = int32(i), int32(len(k.slots[i])), due
	k.slots[i] = append(k.slots[i], c)
}

// unslot removes c from its slot, if it is in one. k.mu held.
func (k *keepalive) unslot(c *Conn) {
	if c.kaSlot < 0 {
		return
	}
	s := k.slots[c.kaSlot]
	last := len(s) - 1
	if int(c.kaPos) != last {
		moved := s[last]
		s[c.kaPos] = moved
		moved.kaPos = c.kaPos
	}
	s[last] = nil
	k.slots[c.kaSlot] = s[:last]
}

func (k *keepalive) loop() {
	t := time.NewTicker(k.tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-k.stop:
		}
		k.mu.Lock()
		if k.count == 0 {
			k.running = false
			k.mu.Unlock()
			return
		}
		// Take every slot whose tick has come (several if this goroutine
		// was held up, each slot once at most).
		batch := k.batch[:0]
		target := int64(time.Since(k.base) / k.tick)
		from := max(k.cur+1, target-int64(len(k.slots))+1)
		for tick := from; tick <= target; tick++ {
			i := int(tick % int64(len(k.slots)))
			// A slot also holds connections due a lap later (scheduled
			// while this goroutine lagged): they stay.
			kept := k.slots[i][:0]
			for _, c := range k.slots[i] {
				if c.kaDue > tick {
					c.kaPos = int32(len(kept))
					kept = append(kept, c)
					continue
				}
				c.kaSlot = kaStepping
				batch = append(batch, c)
			}
			clear(k.slots[i][len(kept):])
			k.slots[i] = kept
		}
		k.cur = target
		k.mu.Unlock()

		// Pings and closes go out without the lock: a close can run
		// hooks, and those may start or end connections.
		next := k.next[:0]
		for _, c := range batch {
			next = append(next, c.keepaliveStep())
		}

		k.mu.Lock()
		for i, c := range batch {
			if c.kaOn && c.kaSlot == kaStepping {
				c.kaSlot = kaOff
				if next[i] > 0 {
					k.schedule(c, next[i])
				}
			}
		}
		k.mu.Unlock()
		clear(batch)
		k.batch, k.next = batch[:0], next[:0]
	}
}
