//go:build linux && (amd64 || arm64)

package wsevents

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"
)

// TestBatchedSends broadcasts through the io_uring path while one receiver
// hangs up and another does not read: the others get every message in
// order, the silent one's socket fills (its sends come back -EAGAIN and it
// gets a writer of its own), and the sends went through a ring.
func TestBatchedSends(t *testing.T) {
	if !uringWorks() {
		t.Skip("batched sends are off (WSEVENTS_URING=0) or io_uring is unavailable here")
	}
	s := New(Config{MaxQueuedMessages: 100000, MaxQueuedBytes: 64 << 20})
	url := testServer(t, s)
	const n, msgs = 40, 400
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, url)
	}
	waitFor(t, "connections", func() bool { return s.Len() == n })
	before := uringSends.Load()

	payload := make([]byte, 4096)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range clients[2:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			for k := range msgs {
				data, _, err := wsutil.ReadServerData(c.conn)
				if err != nil {
					errs <- fmt.Errorf("client %d, message %d: %v", i+2, k, err)
					return
				}
				if want := strconv.Itoa(k); string(data[:len(want)]) != want || len(data) != len(want)+len(payload) {
					errs <- fmt.Errorf("client %d: message %d is %.10q", i+2, k, data)
					return
				}
			}
		}()
	}
	for k := range msgs {
		if k == msgs/2 {
			clients[0].conn.Close() // hangs up half-way; clients[1] never reads
		}
		if err := s.To(All).EmitMessage(append([]byte(strconv.Itoa(k)), payload...)); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Frames queued while a send is under way leave together in the next
	// one, and a writer that finds a single connection ready writes it
	// plainly, so there are fewer ring sends than deliveries; but there
	// must be some.
	got := uringSends.Load() - before
	t.Logf("%d sends through a ring for %d broadcasts to %d connections", got, msgs, n)
	if got == 0 {
		t.Fatalf("only %d sends through a ring", got)
	}
	waitFor(t, "the hung-up client to go", func() bool { return s.Len() == n-1 })
}

// ringSends is the number of sends made through a ring so far.
func ringSends() uint64 { return uringSends.Load() }
