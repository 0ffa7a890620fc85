package wsevents

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"
)

// deflateTail ends every compressed message on the wire (RFC 7692 section
// 7.2.1): the sender strips it, the receiver appends it.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

// inflateTail is what the receiver appends: the stripped tail, then an
// empty final stored block, so that a complete message inflates to io.EOF
// and a message cut inside a block is an error instead of a shorter
// message.
var inflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// compressedLimit is the most wire bytes accepted for a compressed message
// that may inflate to at most limit bytes: deflate can expand incompressible
// data (stored blocks add 5 bytes per 64 KiB, fixed Huffman codes up to one
// bit in eight), so the wire check leaves that much room and the inflate
// limit decides.
func compressedLimit(limit int64) int64 { return limit + limit/8 + 1024 }

// Compressors and decompressors are large (hundreds of KiB): pooled per
// process, held only while a message is being (de)compressed.
var (
	flateWriters sync.Pool
	flateReaders sync.Pool
)

// deflate appends the compressed form of p to dst. The server never takes
// over context between messages (server_no_context_takeover), so the result
// can be shared by every recipient.
func (s *Server) deflate(dst, p []byte) []byte {
	out := bytes.NewBuffer(dst)
	fw, _ := flateWriters.Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(out, flate.BestSpeed)
	} else {
		fw.Reset(out)
	}
	fw.Write(p)
	fw.Flush()
	fw.Reset(io.Discard)
	flateWriters.Put(fw)
	b := out.Bytes()
	return bytes.TrimSuffix(b, deflateTail)
}

// inflater decompresses one connection's messages. With client context
// takeover the last 32 KiB of output is kept as the next message's
// dictionary; that window is the only state held between messages.
type inflater struct {
	takeover bool
	dict     []byte
	src      multiReader
}

const maxWindow = 1 << 15

// inflate decompresses p, failing with 1009 past limit bytes and with 1002
// on corrupt data.
func (in *inflater) inflate(p []byte, limit int64) ([]byte, error) {
	if len(p) == 0 {
		// No deflate data at all: an empty message (the tail alone is
		// not a block, so it is not run through flate).
		return []byte{}, nil
	}
	in.src.reset(p, inflateTail)
	fr, _ := flateReaders.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(&in.src)
	}
	fr.(flate.Resetter).Reset(&in.src, in.dict)
	defer flateReaders.Put(fr)

	out := make([]byte, 0, min(int64(len(p))*4+64, limit+1))
	for {
		if len(out) == cap(out) {
			if int64(len(out)) > limit {
				return nil, fail(StatusMessageTooBig, "message larger than the limit after decompression")
			}
			grow := min(int64(cap(out))*2, limit+1)
			out = append(out[:cap(out)], make([]byte, grow-int64(cap(out)))...)[:len(out)]
		}
		n, err := fr.Read(out[len(out):cap(out)])
		out = out[:len(out)+n]
		if int64(len(out)) > limit {
			return nil, fail(StatusMessageTooBig, "message larger than the limit after decompression")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fail(StatusProtocolError, "invalid compressed data")
		}
	}
	if in.takeover {
		in.dict = appendWindow(in.dict, out)
	}
	return out, nil
}

// appendWindow keeps the last 32 KiB of dict+out.
func appendWindow(dict, out []byte) []byte {
	if len(out) >= maxWindow {
		return append(dict[:0], out[len(out)-maxWindow:]...)
	}
	keep := maxWindow - len(out)
	if len(dict) > keep {
		dict = append(dict[:0], dict[len(dict)-keep:]...)
	}
	return append(dict, out...)
}

// multiReader reads a then b, without allocating per message.
type multiReader struct {
	a, b []byte
}

func (m *multiReader) reset(a, b []byte) { m.a, m.b = a, b }
func (m *multiReader) done() bool        { return len(m.a) == 0 && len(m.b) == 0 }

// Read implements io.Reader.
func (m *multiReader) Read(p []byte) (int, error) {
	if len(m.a) > 0 {
		n := copy(p, m.a)
		m.a = m.a[n:]
		return n, nil
	}
	if len(m.b) > 0 {
		n := copy(p, m.b)
		m.b = m.b[n:]
		return n, nil
	}
	return 0, io.EOF
}

// ReadByte implements io.ByteReader, so flate reads without a bufio layer.
func (m *multiReader) ReadByte() (byte, error) {
	if len(m.a) > 0 {
		c := m.a[0]
		m.a = m.a[1:]
		return c, nil
	}
	if len(m.b) > 0 {
		c := m.b[0]
		m.b = m.b[1:]
		return c, nil
	}
	return 0, io.EOF
}
