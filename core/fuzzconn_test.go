package wsevents

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzFrameStream replays arbitrary bytes as a client's frame stream into a
// real connection over net.Pipe (the portable read and write path, without
// the Unix poller shortcuts). Whatever the bytes, the server must end with
// a close code the protocol allows for them, never hang, never panic, and
// leave no goroutine behind.
func FuzzFrameStream(f *testing.F) {
	text := maskedFrame(0x81, []byte("et:echo\nhi"), 10)
	ask := maskedFrame(0x81, []byte("aj1:echo\n[1]"), 12)
	f.Add(text)
	f.Add(append(append([]byte{}, text...), ask...))
	f.Add(maskedFrame(0x89, []byte("ping"), 4))
	f.Add(maskedFrame(0x88, []byte{0x03, 0xe8}, 2))
	f.Add(maskedFrame(0x01, []byte("et:ec"), 5)) // unfinished fragment
	f.Add(append(maskedFrame(0x01, []byte("et:ec"), 5), maskedFrame(0x80, []byte("ho\nx"), 4)...))
	f.Add(maskedFrame(0xC1, []byte("x"), 1))                                  // RSV1 without deflate
	f.Add(maskedFrame(0x81, []byte{0xff}, 1))                                 // invalid UTF-8
	f.Add(maskedFrame(0x82, bytes.Repeat([]byte("x"), 300), 300))             // oversize
	f.Add([]byte{0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // 2^64-1 length
	f.Add(maskedFrame(0x81, []byte("qt:bad\nx"), 8))                          // malformed event
	f.Fuzz(func(t *testing.T, stream []byte) {
		s := New(Config{MaxMessageSize: 256, WriteTimeout: time.Second, PingPeriod: -1, ReadTimeout: time.Second})
		s.OnConnection(func(c Connection) {
			c.On("echo", func(m Message) (any, error) {
				if !m.Asked {
					return nil, c.Emit("echo", m)
				}
				return m, nil
			})
			c.OnMessage(func(m Message) { c.EmitMessage(m) })
		})
		srvEnd, cliEnd := net.Pipe()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		done := make(chan struct{})
		go func() {
			s.serveConn(s.newConn(srvEnd, "fuzz", req, Subprotocol, nil, nil))
			close(done)
		}()

		// Read the server's frames while writing the stream: net.Pipe has
		// no buffer, so a write waits for the other side's read.
		codes := make(chan StatusCode, 1)
		go func() {
			codes <- readCloseCode(cliEnd)
		}()
		cliEnd.SetWriteDeadline(time.Now().Add(2 * time.Second))
		cliEnd.Write(stream)
		// Then close like a client that has nothing more to say. The stream
		// may end inside a frame that swallows the close (a ping whose
		// payload it becomes): the close is sent again until the server
		// answers. A frame left incomplete ends by ReadTimeout instead.
		stop := make(chan struct{})
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			for range 4 {
				cliEnd.SetWriteDeadline(time.Now().Add(2 * time.Second))
				cliEnd.Write(maskedFrame(0x88, []byte{0x03, 0xe8}, 2))
				select {
				case <-stop:
					return
				case <-time.After(1500 * time.Millisecond):
				}
			}
		}()

		var code StatusCode
		select {
		case code = <-codes:
		case <-time.After(10 * time.Second):
			t.Fatalf("no end after %q", stream)
		}
		close(stop)
		<-wrote
		cliEnd.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("server connection did not finish after %q", stream)
		}
		switch code {
		case -1:
			t.Fatalf("TCP ended without a close frame after %q", stream)
		case StatusNormalClosure, StatusProtocolError, StatusInvalidPayload, StatusPolicyViolation, StatusMessageTooBig,
			StatusNoStatus: // an empty close frame answering the client's empty one
		default:
			if !validCloseCode(code) { // an echoed client close code
				t.Fatalf("server closed with %d after %q", code, stream)
			}
		}
		if s.Len() != 0 {
			t.Fatal("connection still registered")
		}
	})
}

// readCloseCode reads server frames until a close frame (its code, or 1005
// when empty) or the end of the stream (-1).
func readCloseCode(c net.Conn) StatusCode {
	c.SetReadDeadline(time.Now().Add(8 * time.Second))
	var hdr [10]byte
	for {
		if _, err := io.ReadFull(c, hdr[:2]); err != nil {
			return -1
		}
		n := int64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(c, hdr[2:4]); err != nil {
				return -1
			}
			n = int64(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(c, hdr[2:10]); err != nil {
				return -1
			}
			n = int64(binary.BigEndian.Uint64(hdr[2:10]))
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c, p); err != nil {
			return -1
		}
		if hdr[0]&0x0f == 0x8 {
			if len(p) < 2 {
				return StatusNoStatus
			}
			return StatusCode(binary.BigEndian.Uint16(p))
		}
	}
}
