package wsevents

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestEventRateLimitDrop(t *testing.T) {
	s := New(Config{EventRate: 0.001, EventBurst: 3}) // effectively no refill during the test
	got := make(chan int, 10)
	errs := make(chan error, 10)
	s.OnConnection(func(c Connection) {
		c.On("n", func(n int) { got <- n })
		c.On("sum", func(Message) (any, error) { return 1, nil })
		c.OnError(func(err error) { errs <- err })
	})
	cl := dialEvents(t, testServer(t, s))
	for i := 1; i <= 3; i++ {
		cl.send(fmt.Sprintf("ej:n\n%d", i))
	}
	cl.send("ej:n\n4") // over the burst: dropped, and the client told
	cl.expect(`cj:ratelimited` + "\n" + `{"event":"n","dropped":1}`)
	cl.send("ej:n\n5")       // dropped; no second notice within a second
	cl.send("aj1:sum\nnull") // an ask over the limit gets an error reply
	cl.expect(`xt1:` + "\n" + ErrRateLimited.Error())
	for i := 1; i <= 3; i++ {
		if n := <-got; n != i {
			t.Fatalf("event %d delivered as %d", i, n)
		}
	}
	select {
	case n := <-got:
		t.Fatalf("event %d over the limit delivered", n)
	default:
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; !errors.Is(err, ErrRateLimited) {
			t.Fatalf("reported %v", err)
		}
	}
}

// Drop notices are at most one a second, and each counts the drops since
// the previous one; the Go client reports them to OnError.
func TestEventRateLimitNotice(t *testing.T) {
	s := New(Config{EventRate: 0.001, EventBurst: 1})
	s.OnConnection(func(c Connection) { c.On("n", func(int) {}) })
	url := testServer(t, s)
	errs := make(chan error, 10)
	cl, err := Dial(t.Context(), url, DialOptions{Setup: func(cl *Client) {
		cl.OnError(func(err error) { errs <- err })
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < 4; i++ { // 1 delivered, 3 dropped: one notice now
		cl.Emit("n", i)
	}
	err = within(t, errs, "the first drop notice")
	if !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), `dropped 1 events (the last: "n")`) {
		t.Fatalf("client reported %v", err)
	}
	select {
	case err := <-errs:
		t.Fatalf("a second notice within the second: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	time.Sleep(800 * time.Millisecond) // past the second
	cl.Emit("n", 9)
	err = within(t, errs, "the next drop notice")
	if !strings.Contains(err.Error(), `dropped 3 events`) {
		t.Fatalf("next notice %v: want the 2 drops in the quiet second and this one", err)
	}
}

func TestEventRateLimitClose(t *testing.T) {
	s := New(Config{EventRate: 0.001, EventBurst: 2, RateLimit: RateLimitClose})
	s.OnConnection(func(c Connection) { c.On("x", func() {}) })
	cl := dialEvents(t, testServer(t, s))
	for i := 0; i < 3; i++ {
		cl.send("ej:x\nnull")
	}
	if code := cl.closeCode(); code != StatusPolicyViolation {
		t.Fatalf("close %d, want 1008", code)
	}
}

func TestMaxRoomsPerConnection(t *testing.T) {
	s := New(Config{MaxRoomsPerConnection: 2})
	res := make(chan error, 4)
	s.OnConnection(func(c Connection) {
		res <- c.Join("a")
		res <- c.Join("b")
		res <- c.Join("a") // already in: not a new room
		res <- c.Join("c")
	})
	dialEvents(t, testServer(t, s))
	for i, want := range []error{nil, nil, nil, ErrTooManyRooms} {
		if err := <-res; !errors.Is(err, want) {
			t.Fatalf("join %d: %v, want %v", i, err, want)
		}
	}
	if n := New(Config{}).cfg.MaxRoomsPerConnection; n != DefaultMaxRooms {
		t.Fatalf("default room cap %d", n)
	}
}
