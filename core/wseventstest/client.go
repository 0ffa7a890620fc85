package wseventstest

import (
	"errors"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	wsevents "github.com/wsevents/wsevents/core"
)

// timeout bounds every wait of the kit: a read, a handler being called, a
// condition becoming true. It is a safety net for hangs, never an
// assertion about speed.
const timeout = 5 * time.Second

// Client is a wsevents peer built on gorilla/websocket, an implementation
// independent of core. Its methods fail the test instead of returning
// errors. Like a gorilla connection, it is not safe for concurrent use.
type Client struct {
	t testing.TB
	// Conn is the underlying connection, for what the helpers do not cover.
	Conn *websocket.Conn
	// Response is the server's handshake response (101).
	Response *http.Response
}

// Dial opens an event-mode connection (subprotocol wsevents.v1) to url,
// sending header with the handshake, and fails t if the server does not
// upgrade it. The connection is closed when the test ends.
func Dial(t testing.TB, url string, header http.Header) *Client {
	t.Helper()
	return dial(t, url, header, wsevents.Subprotocol)
}

// DialNative opens a native-mode connection: no subprotocol is offered.
func DialNative(t testing.TB, url string, header http.Header) *Client {
	t.Helper()
	return dial(t, url, header)
}

func dial(t testing.TB, url string, header http.Header, protocols ...string) *Client {
	t.Helper()
	conn, resp, err := handshake(url, header, protocols...)
	if err != nil {
		status := "no response"
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial %s: %v (%s)", url, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	return &Client{t: t, Conn: conn, Response: resp}
}

func handshake(url string, header http.Header, protocols ...string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: timeout}
	conn, resp, err := d.Dial(url, header)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return conn, resp, err
}

// Send writes m in the frame type its kind calls for.
func (c *Client) Send(m Message) {
	c.t.Helper()
	data, binary := m.Encode()
	c.write(data, binary)
}

// Emit sends a text event.
func (c *Client) Emit(event, text string) {
	c.t.Helper()
	c.Send(Event(event, wsevents.KindText, text))
}

func (c *Client) write(data []byte, binary bool) {
	c.t.Helper()
	op := websocket.TextMessage
	if binary {
		op = websocket.BinaryMessage
	}
	c.Conn.SetWriteDeadline(time.Now().Add(timeout))
	if err := c.Conn.WriteMessage(op, data); err != nil {
		c.t.Fatalf("send %q: %v", data, err)
	}
}

// Read returns the next message, decoded. It fails the test when the
// connection ends, nothing arrives in time, the message breaks
// PROTOCOL.md, or a binary payload (kind b) came in a text frame.
func (c *Client) Read() Message {
	c.t.Helper()
	m, _ := c.readFrame()
	return m
}

// readFrame is Read that also reports whether the frame was binary.
func (c *Client) readFrame() (Message, bool) {
	c.t.Helper()
	op, data := c.readRaw()
	m, err := Decode(data)
	if err != nil {
		c.t.Fatalf("server sent an invalid message %q: %v", data, err)
	}
	if m.Kind == wsevents.KindBinary && op != websocket.BinaryMessage {
		c.t.Fatalf("server sent binary payload %v in a text frame", m)
	}
	return m, op == websocket.BinaryMessage
}

// readRaw returns the next data message as it arrived. gorilla answers
// pings while it reads.
func (c *Client) readRaw() (int, []byte) {
	c.t.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(timeout))
	op, data, err := c.Conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if op == websocket.TextMessage && !utf8.Valid(data) {
		c.t.Fatalf("server sent invalid UTF-8 in a text frame: %q", data)
	}
	return op, data
}

// Expect reads the next message and fails the test unless it equals want.
func (c *Client) Expect(want Message) {
	c.t.Helper()
	if got := c.Read(); !got.Equal(want) {
		c.t.Fatalf("got %v, want %v", got, want)
	}
}

// CloseCode reads until the server's close frame and returns its code.
// Data messages on the way are skipped. It fails the test when the
// connection ends without a close frame or none arrives in time.
func (c *Client) CloseCode() int {
	c.t.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, _, err := c.Conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			c.t.Fatalf("connection ended without a close frame: %v", err)
		}
		if ce.Code == websocket.CloseAbnormalClosure {
			c.t.Fatalf("connection ended without a close frame (1006): %v", err)
		}
		return ce.Code
	}
}

// Close starts the closing handshake with code 1000 and returns the code
// the server answered with.
func (c *Client) Close() int {
	c.t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := c.Conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(timeout)); err != nil {
		c.t.Fatalf("send close: %v", err)
	}
	return c.CloseCode()
}
