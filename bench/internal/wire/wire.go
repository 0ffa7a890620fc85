// Package wire is the client side of the load generator: a hand-written
// WebSocket handshake, masked frames encoded once and patched in place, and
// a frame reader that reassembles fragments. Every peer is driven through
// the same code, so the client costs the same whichever server is measured.
package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// Opcodes of RFC 6455.
const (
	OpCont   = 0x0
	OpText   = 0x1
	OpBinary = 0x2
	OpClose  = 0x8
	OpPing   = 0x9
	OpPong   = 0xA
)

// SeqDigits is the width of the decimal sequence number every payload
// starts with.
const SeqDigits = 10

// Format says how a peer frames an application payload.
type Format struct {
	Name        string
	Path        string
	Subprotocol string // offered in the handshake; "" for none
	// Prefix and ReplyPrefix are the envelope before the payload of a sent
	// message and of the expected reply (or broadcast delivery).
	Prefix, ReplyPrefix string
	// Neffos: the neffos ack ("M" -> "A<id>") and a connect to the
	// namespace after the handshake; with NeffosRoom, a join of that room
	// after the connect.
	Neffos          bool
	NeffosNamespace string
	NeffosRoom      string
	// Rooms: the format of the rooms scenario, whose path and (neffos)
	// envelope name the room; see InRoom.
	Rooms bool
	event string
}

// Formats by name. "native" is plain WebSocket messages; "wsevents" and
// "neffos" are each library's event format (PROTOCOL.md; neffos's
// "wait;namespace;room;event;isError;isNoOp;body"). The scenarios echo and
// latency use /echo (event "echo"), broadcast /bcast (event "bcast"), rooms
// /rooms/<room> (event "rooms"; call InRoom for each connection).
func FormatFor(name, scenario string) (Format, error) {
	event := "echo"
	path := "/echo"
	switch scenario {
	case "broadcast":
		event = "bcast"
		path = "/bcast"
	case "rooms":
		event = "rooms"
		path = "/rooms/"
	}
	rooms := scenario == "rooms"
	switch name {
	case "native":
		return Format{Name: name, Path: path, Rooms: rooms, event: event}, nil
	case "wsevents":
		p := "et:" + event + "\n"
		if !rooms {
			path = "/events"
		}
		return Format{Name: name, Path: path, Subprotocol: "wsevents.v1", Prefix: p, ReplyPrefix: p, Rooms: rooms, event: event}, nil
	case "neffos":
		p := ";default;;" + event + ";0;0;"
		if !rooms {
			path = "/events"
		}
		return Format{Name: name, Path: path, Prefix: p, ReplyPrefix: p, Neffos: true, NeffosNamespace: "default", Rooms: rooms, event: event}, nil
	}
	return Format{}, fmt.Errorf("unknown format %q", name)
}

// InRoom is the format of a member of room in the rooms scenario: the room
// is the last element of the path (/rooms/<room>); for neffos, which has
// rooms of its own, the connection also joins the neffos room and its
// messages name it.
func (f Format) InRoom(room string) Format {
	if !f.Rooms {
		return f
	}
	f.Path += room
	if f.Neffos {
		f.NeffosRoom = room
		f.Prefix = ";" + f.NeffosNamespace + ";" + room + ";" + f.event + ";0;0;"
		f.ReplyPrefix = f.Prefix
	}
	return f
}

// Template is a pre-encoded masked client frame whose payload starts,
// after the format's prefix, with a decimal sequence number; SetSeq patches
// the (masked) digits in place, nothing else is re-encoded.
type Template struct {
	Frame  []byte // masked frame, ready to write
	seqOff int    // offset of the first digit in Frame
	seqIdx int    // index of that digit in the payload (for the mask phase)
	mask   [4]byte
	// Expected is the reply payload (unmasked) with the same sequence
	// number; SetSeq keeps it in step.
	Expected    []byte
	expectedOff int
}

// NewTemplate encodes a text frame of prefix + seq + filler, where the
// application payload (seq + filler) is size bytes.
func NewTemplate(f Format, size int, mask [4]byte) *Template {
	if size < SeqDigits {
		size = SeqDigits
	}
	app := make([]byte, size)
	for i := range app {
		app[i] = 'a' + byte(i%26)
	}
	copy(app, bytes.Repeat([]byte{'0'}, SeqDigits))
	payload := append([]byte(f.Prefix), app...)
	t := &Template{mask: mask}
	t.Frame = EncodeClient(OpText, payload, mask)
	t.seqIdx = len(f.Prefix)
	t.seqOff = len(t.Frame) - len(payload) + t.seqIdx
	t.Expected = append([]byte(f.ReplyPrefix), app...)
	t.expectedOff = len(f.ReplyPrefix)
	return t
}

// SetSeq writes n into the frame (masked) and into Expected.
func (t *Template) SetSeq(n uint64) {
	var d [SeqDigits]byte
	for i := SeqDigits - 1; i >= 0; i-- {
		d[i] = '0' + byte(n%10)
		n /= 10
	}
	for i := 0; i < SeqDigits; i++ {
		t.Frame[t.seqOff+i] = d[i] ^ t.mask[(t.seqIdx+i)&3]
		t.Expected[t.expectedOff+i] = d[i]
	}
}

// ParseSeq reads the sequence number after prefixLen bytes of payload.
func ParseSeq(payload []byte, prefixLen int) (uint64, bool) {
	if len(payload) < prefixLen+SeqDigits {
		return 0, false
	}
	var n uint64
	for _, c := range payload[prefixLen : prefixLen+SeqDigits] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// EncodeClient returns a masked frame with FIN set.
func EncodeClient(op byte, payload []byte, mask [4]byte) []byte {
	return appendClient(nil, op, payload, mask)
}

// appendClient appends a masked frame with FIN set to dst.
func appendClient(dst []byte, op byte, payload []byte, mask [4]byte) []byte {
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|op, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|op, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|op, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, mask[:]...)
	for i, b := range payload {
		dst = append(dst, b^mask[i&3])
	}
	return dst
}

// Conn is one client connection.
type Conn struct {
	NC   net.Conn
	BR   *bufio.Reader
	wmu  sync.Mutex
	msg  []byte // reassembly buffer, reused
	pong []byte // the last pong sent, its buffer reused
	hdr  [14]byte
	key  [4]byte
}

// Dial connects, performs the handshake (and neffos's ack and namespace
// connect when the format asks for it).
func Dial(addr string, f Format, mask [4]byte, timeout time.Duration) (*Conn, error) {
	return DialFrom("", addr, f, mask, timeout)
}

// DialFrom is Dial from the local IP address local ("" for any): binding
// clients to several loopback addresses (127.0.0.2, 127.0.0.3, ...) gives
// each its own range of source ports.
func DialFrom(local, addr string, f Format, mask [4]byte, timeout time.Duration) (*Conn, error) {
	d := net.Dialer{Timeout: timeout}
	if local != "" {
		ip := net.ParseIP(local)
		if ip == nil {
			return nil, fmt.Errorf("wire: bad local address %q", local)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Conn{NC: nc, BR: bufio.NewReaderSize(nc, 4096), key: mask}
	nc.SetDeadline(time.Now().Add(timeout))
	if err := c.handshake(addr, f); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *Conn) handshake(addr string, f Format) error {
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", f.Path, addr)
	if f.Subprotocol != "" {
		fmt.Fprintf(&req, "Sec-WebSocket-Protocol: %s\r\n", f.Subprotocol)
	}
	req.WriteString("\r\n")
	if _, err := c.NC.Write(req.Bytes()); err != nil {
		return err
	}
	status, err := c.BR.ReadString('\n')
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if len(status) < 12 || status[9:12] != "101" {
		return fmt.Errorf("handshake refused: %q", status)
	}
	proto := ""
	for {
		line, err := c.BR.ReadString('\n')
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		if line == "\r\n" {
			break
		}
		if k, v, ok := bytes.Cut([]byte(line), []byte(":")); ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Sec-WebSocket-Protocol")) {
			proto = string(bytes.TrimSpace(v))
		}
	}
	if proto != f.Subprotocol {
		return fmt.Errorf("handshake: subprotocol %q, want %q", proto, f.Subprotocol)
	}
	if !f.Neffos {
		return nil
	}
	// neffos: ack, then connect to the namespace (wait token from the
	// client side starts with '$').
	if err := c.Write(EncodeClient(OpText, []byte("M"), c.key)); err != nil {
		return err
	}
	_, p, err := c.ReadMessage()
	if err != nil {
		return fmt.Errorf("neffos ack: %w", err)
	}
	if len(p) == 0 || p[0] != 'A' {
		return fmt.Errorf("neffos ack: got %q", p)
	}
	wait := "$1"
	connect := wait + ";" + f.NeffosNamespace + ";;_OnNamespaceConnect;0;0;"
	if err := c.Write(EncodeClient(OpText, []byte(connect), c.key)); err != nil {
		return err
	}
	_, p, err = c.ReadMessage()
	if err != nil {
		return fmt.Errorf("neffos connect: %w", err)
	}
	if want := wait + ";;;;;;"; string(p) != want {
		return fmt.Errorf("neffos connect: got %q, want %q", p, want)
	}
	if f.NeffosRoom == "" {
		return nil
	}
	// The room join, as neffos's client JoinRoom asks it.
	wait = "$2"
	join := wait + ";" + f.NeffosNamespace + ";" + f.NeffosRoom + ";_OnRoomJoin;0;0;"
	if err := c.Write(EncodeClient(OpText, []byte(join), c.key)); err != nil {
		return err
	}
	_, p, err = c.ReadMessage()
	if err != nil {
		return fmt.Errorf("neffos room join: %w", err)
	}
	if want := wait + ";;;;;;"; string(p) != want {
		return fmt.Errorf("neffos room join: got %q, want %q", p, want)
	}
	return nil
}

// Write writes a pre-encoded frame (safe for concurrent use).
func (c *Conn) Write(frame []byte) error {
	c.wmu.Lock()
	_, err := c.NC.Write(frame)
	c.wmu.Unlock()
	return err
}

// ErrProtocol is a frame the client cannot accept (masked server frame,
// bad opcode).
var ErrProtocol = errors.New("wire: protocol error")

// ReadMessage returns the next data message (fragments reassembled). Pings
// are answered; pongs are skipped; a close frame is an error. The payload
// is valid until the next call.
func (c *Conn) ReadMessage() (op byte, payload []byte, err error) {
	c.msg = c.msg[:0]
	op = 0
	for {
		fop, fin, p, err := c.readFrame()
		if err != nil {
			return 0, nil, err
		}
		switch fop {
		case OpPing:
			c.pong = appendClient(c.pong[:0], OpPong, p, c.key)
			if err := c.Write(c.pong); err != nil {
				return 0, nil, err
			}
			continue
		case OpPong:
			continue
		case OpClose:
			code := 0
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			return 0, nil, fmt.Errorf("server closed: %d %q", code, p[min(2, len(p)):])
		case OpText, OpBinary:
			if op != 0 {
				return 0, nil, ErrProtocol
			}
			op = fop
		case OpCont:
			if op == 0 {
				return 0, nil, ErrProtocol
			}
		default:
			return 0, nil, ErrProtocol
		}
		if fin && len(c.msg) == 0 {
			return op, p, nil // one frame: no copy
		}
		c.msg = append(c.msg, p...)
		if fin {
			return op, c.msg, nil
		}
	}
}

// readFrame reads one frame; the payload aliases the bufio buffer when it
// fits there, else a private buffer.
func (c *Conn) readFrame() (op byte, fin bool, payload []byte, err error) {
	h, err := c.BR.Peek(2)
	if err != nil {
		return 0, false, nil, err
	}
	fin = h[0]&0x80 != 0
	op = h[0] & 0x0F
	if h[1]&0x80 != 0 {
		return 0, false, nil, ErrProtocol
	}
	n := int(h[1] & 0x7F)
	hl := 2
	switch n {
	case 126:
		hl = 4
	case 127:
		hl = 10
	}
	if hl > 2 {
		h, err = c.BR.Peek(hl)
		if err != nil {
			return 0, false, nil, err
		}
		if hl == 4 {
			n = int(binary.BigEndian.Uint16(h[2:]))
		} else {
			n = int(binary.BigEndian.Uint64(h[2:]))
		}
	}
	c.BR.Discard(hl)
	if n <= c.BR.Size() {
		p, err := c.BR.Peek(n)
		if err != nil {
			return 0, false, nil, err
		}
		c.BR.Discard(n)
		return op, fin, p, nil
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.BR, p); err != nil {
		return 0, false, nil, err
	}
	return op, fin, p, nil
}

// Close sends a close frame and closes TCP.
func (c *Conn) Close() {
	c.NC.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.Write(EncodeClient(OpClose, []byte{0x03, 0xE8}, c.key))
	c.NC.Close()
}

// Itoa is strconv.Itoa, here so callers need not import it for labels.
func Itoa(n int) string { return strconv.Itoa(n) }
