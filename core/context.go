package wsevents

import (
	"context"
	"sync"
	"time"
)

// connContext is a connection's Context: done when the connection ends,
// with the values of the upgrade request's context. It lives inside the
// Conn, so a connection costs no context allocation of its own, and it
// makes its done channel only when somebody asks for it (an idle
// connection whose handlers never wait on it has none). It implements
// AfterFunc, so context.WithCancel, WithTimeout and context.AfterFunc
// derive from it without starting a goroutine each.
type connContext struct {
	values context.Context // the upgrade request's context, for Value only
	mu     sync.Mutex
	ended  bool
	done   chan struct{}
	after  map[*afterFunc]struct{} // AfterFunc registrations not yet run or stopped
}

type afterFunc struct{ f func() }

// closedChan is the Done channel of a context that ended before anybody
// asked for one.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (x *connContext) Deadline() (time.Time, bool) { return time.Time{}, false }

func (x *connContext) Done() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		if x.ended {
			x.done = closedChan
		} else {
			x.done = make(chan struct{})
		}
	}
	return x.done
}

func (x *connContext) Err() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ended {
		return context.Canceled
	}
	return nil
}

func (x *connContext) Value(key any) any {
	if x.values == nil {
		return nil
	}
	return x.values.Value(key)
}

// AfterFunc arranges for f to run in its own goroutine once the
// connection ends (at once if it has); stop, as context.AfterFunc's,
// reports whether it kept f from running.
func (x *connContext) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	x.mu.Lock()
	if x.ended {
		x.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	if x.after == nil {
		x.after = make(map[*afterFunc]struct{})
	}
	x.after[a] = struct{}{}
	x.mu.Unlock()
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		if _, ok := x.after[a]; !ok {
			return false
		}
		delete(x.after, a)
		return true
	}
}

// cancel ends the context; it runs once, later calls do nothing.
func (x *connContext) cancel() {
	x.mu.Lock()
	if x.ended {
		x.mu.Unlock()
		return
	}
	x.ended = true
	if x.done != nil {
		close(x.done)
	}
	after := x.after
	x.after = nil
	x.mu.Unlock()
	for a := range after {
		go a.f()
	}
}
