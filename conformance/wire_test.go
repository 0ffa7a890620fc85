package conformance

// The client side of the wire, written from RFC 6455 and RFC 7692: frame
// encoding with every knob a conformance case needs (any FIN, RSV, opcode,
// mask, length encoding), a strict frame decoder for what the server
// sends, the opening handshake, permessage-deflate parameters, and a UTF-8
// prefix oracle for fail-fast expectations.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Opcodes (RFC 6455 section 5.2).
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// RSV bits as Autobahn numbers them: the 3-bit value RSV1<<2|RSV2<<1|RSV3.
const (
	rsv1 byte = 4
	rsv2 byte = 2
	rsv3 byte = 1
)

func opName(op byte) string {
	switch op {
	case opCont:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("op%d", op)
}

// frame is one frame as a case wants it on the wire.
type frame struct {
	fin      bool
	rsv      byte // Autobahn numbering, see rsv1..rsv3
	op       byte
	payload  []byte
	unmasked bool // send without a mask (clients MUST mask)
	// lenBytes forces the length encoding: 0 minimal, 2 the 16-bit form,
	// 8 the 64-bit form (non-minimal encodings are protocol errors).
	lenBytes int
}

// fr is a final frame; frag a non-final one.
func fr(op byte, payload []byte) frame   { return frame{fin: true, op: op, payload: payload} }
func frag(op byte, payload []byte) frame { return frame{op: op, payload: payload} }

// header encodes a frame header announcing length payload bytes.
func header(fin bool, rsv, op byte, length uint64, mask *[4]byte, lenBytes int) []byte {
	b0 := op & 0x0F
	if fin {
		b0 |= 0x80
	}
	b0 |= (rsv & 7) << 4
	h := []byte{b0, 0}
	var mbit byte
	if mask != nil {
		mbit = 0x80
	}
	switch {
	case lenBytes == 8 || (lenBytes == 0 && length > 0xFFFF):
		h[1] = mbit | 127
		h = binary.BigEndian.AppendUint64(h, length)
	case lenBytes == 2 || (lenBytes == 0 && length > 125):
		h[1] = mbit | 126
		h = binary.BigEndian.AppendUint16(h, uint16(length))
	default:
		h[1] = mbit | byte(length)
	}
	if mask != nil {
		h = append(h, mask[:]...)
	}
	return h
}

// encode returns the frame's bytes, masked with key.
func (f frame) encode(key [4]byte) []byte { return f.appendTo(nil, key) }

// appendTo appends the frame's bytes, masked with key, to dst.
func (f frame) appendTo(dst []byte, key [4]byte) []byte {
	var mk *[4]byte
	if !f.unmasked {
		mk = &key
	}
	dst = append(dst, header(f.fin, f.rsv, f.op, uint64(len(f.payload)), mk, f.lenBytes)...)
	if mk == nil {
		return append(dst, f.payload...)
	}
	n := len(dst)
	dst = slices.Grow(dst, len(f.payload))[:n+len(f.payload)]
	maskCopy(dst[n:], f.payload, key)
	return dst
}

// maskCopy writes src XOR key to dst in one pass (RFC 6455 5.3).
func maskCopy(dst, src []byte, key [4]byte) {
	k4 := uint64(binary.LittleEndian.Uint32(key[:]))
	k8 := k4 | k4<<32
	i := 0
	for ; i+8 <= len(src); i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k8)
	}
	for ; i < len(src); i++ {
		dst[i] = src[i] ^ key[i&3]
	}
}

// maskBytes XORs p with key in place, starting at key offset off.
func maskBytes(p []byte, key [4]byte, off int) {
	var k [4]byte
	for i := range k {
		k[i] = key[(off+i)&3]
	}
	maskCopy(p, p, k)
}

// rframe is a frame received from the server.
type rframe struct {
	fin     bool
	rsv     byte
	op      byte
	payload []byte
}

// errServer marks a violation of RFC 6455 by the server's own frames.
type errServer struct{ msg string }

func (e *errServer) Error() string { return "server sent an invalid frame: " + e.msg }

// readFrame decodes one frame from the server, checking what RFC 6455
// section 5.2 requires of a server's framing. maxLen bounds a single
// frame's payload.
func readFrame(br *bufio.Reader, maxLen uint64) (rframe, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return rframe{}, err
	}
	f := rframe{fin: h[0]&0x80 != 0, rsv: (h[0] >> 4) & 7, op: h[0] & 0x0F}
	if h[1]&0x80 != 0 {
		return f, &errServer{"masked frame (a server MUST NOT mask, RFC 6455 5.1)"}
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return f, noEOF(err)
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
		if n < 126 {
			return f, &errServer{"16-bit length not minimal (RFC 6455 5.2)"}
		}
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return f, noEOF(err)
		}
		n = binary.BigEndian.Uint64(b[:])
		if n>>63 != 0 {
			return f, &errServer{"64-bit length with the most significant bit set"}
		}
		if n <= 0xFFFF {
			return f, &errServer{"64-bit length not minimal (RFC 6455 5.2)"}
		}
	}
	if f.op >= 8 && (n > 125 || !f.fin) {
		return f, &errServer{fmt.Sprintf("%s frame fragmented or longer than 125 bytes", opName(f.op))}
	}
	if n > maxLen {
		return f, &errServer{fmt.Sprintf("frame of %d bytes, more than the %d this suite ever expects", n, maxLen)}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(br, f.payload); err != nil {
		return f, noEOF(err)
	}
	return f, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// closePayload builds a close frame payload.
func closePayload(code int, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// validCloseCode tells whether an endpoint may put code on the wire
// (RFC 6455 7.4.1 and the IANA registry of 7.4.2): 1000-1003, 1007-1014
// and the ranges 3000-4999. 1004 is reserved, 1005, 1006 and 1015 MUST NOT
// be sent.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// --- opening handshake (RFC 6455 section 4) ---

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// handshakeRequest builds the client's opening handshake.
func handshakeRequest(host, offer string) (req []byte, key string) {
	var k [16]byte
	rand.Read(k[:])
	key = base64.StdEncoding.EncodeToString(k[:])
	var b strings.Builder
	fmt.Fprintf(&b, "GET /echo HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", host)
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if offer != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", offer)
	}
	b.WriteString("\r\n")
	return []byte(b.String()), key
}

// readHandshake reads and checks the server's answer; it returns the
// Sec-WebSocket-Extensions values.
func readHandshake(br *bufio.Reader, key string) ([]string, error) {
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("handshake answered %s: %q", resp.Status, body)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") {
		return nil, fmt.Errorf("101 without Upgrade: websocket (%q)", resp.Header.Get("Upgrade"))
	}
	if !headerToken(resp.Header.Values("Connection"), "upgrade") {
		return nil, fmt.Errorf("101 without Connection: Upgrade (%q)", resp.Header.Values("Connection"))
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		return nil, fmt.Errorf("server chose subprotocol %q that was not offered", p)
	}
	return resp.Header.Values("Sec-WebSocket-Extensions"), nil
}

func headerToken(values []string, token string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// --- permessage-deflate (RFC 7692) ---

// extParam is one extension parameter; hasValue tells "name" from "name=".
type extParam struct {
	name, value string
	hasValue    bool
}

// extension is one element of a Sec-WebSocket-Extensions list.
type extension struct {
	name   string
	params []extParam
}

// parseExtensions parses Sec-WebSocket-Extensions values (RFC 6455 9.1):
// extension *( ";" param ), params "name" or "name=token" or
// "name=quoted-string".
func parseExtensions(values []string) ([]extension, error) {
	var out []extension
	for _, v := range values {
		p := &extParser{s: v}
		for {
			p.ws()
			if p.done() {
				break
			}
			name := p.token()
			if name == "" {
				return nil, fmt.Errorf("bad extension list %q", v)
			}
			e := extension{name: name}
			for {
				p.ws()
				if p.done() || p.peek() == ',' {
					break
				}
				if p.peek() != ';' {
					return nil, fmt.Errorf("bad extension list %q", v)
				}
				p.i++
				p.ws()
				pn := p.token()
				if pn == "" {
					return nil, fmt.Errorf("bad extension parameter in %q", v)
				}
				par := extParam{name: pn}
				p.ws()
				if !p.done() && p.peek() == '=' {
					p.i++
					p.ws()
					par.hasValue = true
					if !p.done() && p.peek() == '"' {
						val, ok := p.quoted()
						if !ok {
							return nil, fmt.Errorf("bad quoted value in %q", v)
						}
						par.value = val
					} else {
						par.value = p.token()
					}
				}
				e.params = append(e.params, par)
			}
			out = append(out, e)
			p.ws()
			if !p.done() && p.peek() == ',' {
				p.i++
			}
		}
	}
	return out, nil
}

type extParser struct {
	s string
	i int
}

func (p *extParser) done() bool { return p.i >= len(p.s) }
func (p *extParser) peek() byte { return p.s[p.i] }
func (p *extParser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}
func (p *extParser) token() string {
	j := p.i
	for p.i < len(p.s) && strings.IndexByte("()<>@,;:\\\"/[]?={} \t", p.s[p.i]) < 0 && p.s[p.i] > 0x20 && p.s[p.i] < 0x7F {
		p.i++
	}
	return p.s[j:p.i]
}
func (p *extParser) quoted() (string, bool) {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), true
		case '\\':
			if p.i >= len(p.s) {
				return "", false
			}
			b.WriteByte(p.s[p.i])
			p.i++
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// pmd is a permessage-deflate configuration (an offer or a response).
type pmd struct {
	serverNoCtx, clientNoCtx bool
	serverBits               int // 0: absent
	clientBits               int // 0: absent, -1: present without a value
}

// windowBits parses an RFC 7692 window-bits value: 8..15, no leading zero.
func windowBits(v string) (int, bool) {
	if len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > 15 {
		return 0, false
	}
	return n, true
}

// parsePMDResponse checks a server's permessage-deflate response the way
// RFC 7692 section 7.1 tells a client to (unknown or duplicate parameters,
// invalid values, client_max_window_bits that was not offered).
func parsePMDResponse(e extension, offer pmd) (pmd, error) {
	var r pmd
	seen := map[string]bool{}
	for _, p := range e.params {
		if seen[p.name] {
			return r, fmt.Errorf("duplicate parameter %s", p.name)
		}
		seen[p.name] = true
		switch p.name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if p.hasValue {
				return r, fmt.Errorf("%s with a value", p.name)
			}
			if p.name == "server_no_context_takeover" {
				r.serverNoCtx = true
			} else {
				r.clientNoCtx = true
			}
		case "server_max_window_bits":
			n, ok := windowBits(p.value)
			if !ok {
				return r, fmt.Errorf("server_max_window_bits=%q is not 8..15", p.value)
			}
			if offer.serverBits > 0 && n > offer.serverBits {
				return r, fmt.Errorf("server_max_window_bits=%d above the offered %d", n, offer.serverBits)
			}
			r.serverBits = n
		case "client_max_window_bits":
			if offer.clientBits == 0 {
				return r, errors.New("client_max_window_bits in the response but not in the offer (RFC 7692 7.1.2.2)")
			}
			n, ok := windowBits(p.value)
			if !ok {
				return r, fmt.Errorf("client_max_window_bits=%q is not 8..15", p.value)
			}
			if offer.clientBits > 0 && n > offer.clientBits {
				return r, fmt.Errorf("client_max_window_bits=%d above the offered %d", n, offer.clientBits)
			}
			r.clientBits = n
		default:
			return r, fmt.Errorf("unknown parameter %q in the response", p.name)
		}
	}
	return r, nil
}

// parsePMDOffer reads one of our own offers back (the offers in the case
// table are strings, to allow malformed ones). ok is false for offers a
// server must decline.
func parsePMDOffer(e extension) (o pmd, ok bool) {
	seen := map[string]bool{}
	for _, p := range e.params {
		if seen[p.name] {
			return o, false
		}
		seen[p.name] = true
		switch p.name {
		case "server_no_context_takeover":
			o.serverNoCtx = true
			if p.hasValue {
				return o, false
			}
		case "client_no_context_takeover":
			o.clientNoCtx = true
			if p.hasValue {
				return o, false
			}
		case "server_max_window_bits":
			n, good := windowBits(p.value)
			if !good {
				return o, false
			}
			o.serverBits = n
		case "client_max_window_bits":
			if !p.hasValue {
				o.clientBits = -1
				continue
			}
			n, good := windowBits(p.value)
			if !good {
				return o, false
			}
			o.clientBits = n
		default:
			return o, false
		}
	}
	return o, true
}

// deflateTail ends a sync-flushed deflate stream; senders strip it and
// receivers append it (RFC 7692 7.2.1, 7.2.2).
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// finalEmptyBlock is an empty stored block with BFINAL set: appended after
// the tail it makes a complete stream of a message that ended on a block
// boundary, so a truncated message shows up as an error, not as a
// silently shorter output.
var finalEmptyBlock = []byte{0x01, 0x00, 0x00, 0xff, 0xff}

// inflater decompresses the server's messages.
type inflater struct {
	takeover bool // the server keeps its LZ77 window across messages
	dict     []byte
}

func (in *inflater) inflate(p []byte, limit int64) ([]byte, error) {
	// Without a dictionary the output depends on p alone: large results
	// are cached (the race detector makes compress/flate slow, and group 9
	// gets the same compressed echo many times).
	var key [sha256.Size]byte
	cacheable := len(in.dict) == 0 && len(p) >= 64<<10
	if cacheable {
		key = sha256.Sum256(p)
		if out, ok := inflateCache.Load(key); ok {
			if in.takeover {
				in.dict = lastWindow(append(in.dict, out.([]byte)...))
			}
			return out.([]byte), nil
		}
	}
	out, err := in.inflateSlow(p, limit)
	if err == nil && cacheable {
		inflateCache.Store(key, out)
	}
	return out, err
}

var inflateCache, deflateCache sync.Map

func (in *inflater) inflateSlow(p []byte, limit int64) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail), bytes.NewReader(finalEmptyBlock))
	r := flate.NewReaderDict(src, in.dict)
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("invalid deflate data from the server: %w", err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("server message inflates past %d bytes", limit)
	}
	if in.takeover {
		in.dict = lastWindow(append(in.dict, out...))
	}
	return out, nil
}

func lastWindow(b []byte) []byte {
	if len(b) > 1<<15 {
		return append([]byte(nil), b[len(b)-1<<15:]...)
	}
	return b
}

// deflater compresses the client's messages.
type deflater struct {
	takeover bool
	level    int
	w        *flate.Writer
	buf      bytes.Buffer
	hist     []byte // last 32 KiB of compressed plaintext, for rebuilding w
}

// compress returns the RFC 7692 payload of one message: deflate, sync
// flush, tail stripped.
func (d *deflater) compress(p []byte) []byte {
	// A message compressed without prior context depends on p and the
	// level alone: large ones are cached.
	fresh := d.w == nil && len(d.hist) == 0 || !d.takeover
	var key deflateKey
	if fresh && len(p) >= 64<<10 {
		key = deflateKey{sha256.Sum256(p), d.level}
		if z, ok := deflateCache.Load(key); ok {
			d.remember(p)
			d.w = nil // rebuilt from hist by the next compress
			return z.([]byte)
		}
	}
	d.buf.Reset()
	switch {
	case d.w == nil && d.takeover && len(d.hist) > 0:
		d.w, _ = flate.NewWriterDict(&d.buf, d.level, d.hist)
	case d.w == nil:
		d.w, _ = flate.NewWriter(&d.buf, d.level)
	case !d.takeover:
		d.w.Reset(&d.buf)
	}
	d.w.Write(p)
	d.w.Flush()
	out := bytes.Clone(d.buf.Bytes())
	if !bytes.HasSuffix(out, deflateTail) {
		panic("sync flush did not end in 00 00 ff ff")
	}
	d.remember(p)
	out = out[:len(out)-4]
	if fresh && len(p) >= 64<<10 {
		deflateCache.Store(key, out)
	}
	return out
}

type deflateKey struct {
	sum   [sha256.Size]byte
	level int
}

// compressFinal compresses p into a stream ending in a BFINAL block, as
// RFC 7692 7.2.3.4 allows, keeping the context when takeover is on.
func (d *deflater) compressFinal(p []byte) []byte {
	var buf bytes.Buffer
	var dict []byte
	if d.takeover {
		dict = d.hist
	}
	w, _ := flate.NewWriterDict(&buf, d.level, dict)
	w.Write(p)
	w.Close()
	d.remember(p)
	if d.takeover {
		// The running writer's window lacks p: rebuild it from history.
		d.w, _ = flate.NewWriterDict(&d.buf, d.level, d.hist)
	}
	return buf.Bytes()
}

func (d *deflater) remember(p []byte) {
	if d.takeover {
		d.hist = lastWindow(append(d.hist, p...))
	}
}

// --- UTF-8 ---

// utf8InvalidAt returns the index of the first byte at which p stops being
// a prefix of any valid UTF-8 text (Unicode table 3-7), or -1 when p is
// such a prefix. complete tells whether p also ends on a character
// boundary.
func utf8InvalidAt(p []byte) (at int, complete bool) {
	need := 0
	var lo, hi byte = 0x80, 0xBF
	for i, b := range p {
		if need == 0 {
			switch {
			case b < 0x80:
			case b >= 0xC2 && b <= 0xDF:
				need, lo, hi = 1, 0x80, 0xBF
			case b == 0xE0:
				need, lo, hi = 2, 0xA0, 0xBF
			case b == 0xED:
				need, lo, hi = 2, 0x80, 0x9F
			case b >= 0xE1 && b <= 0xEF:
				need, lo, hi = 2, 0x80, 0xBF
			case b == 0xF0:
				need, lo, hi = 3, 0x90, 0xBF
			case b >= 0xF1 && b <= 0xF3:
				need, lo, hi = 3, 0x80, 0xBF
			case b == 0xF4:
				need, lo, hi = 3, 0x80, 0x8F
			default:
				return i, false
			}
			continue
		}
		if b < lo || b > hi {
			return i, false
		}
		need--
		lo, hi = 0x80, 0xBF
	}
	return -1, need == 0
}
