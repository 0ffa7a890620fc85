package wsevents

import (
	"bytes"
	"compress/flate"
	"errors"
	"strings"
	"testing"

	"github.com/gobwas/httphead"
)

func deflateForTest(t *testing.T, p []byte, level int) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(p)
	fw.Flush()
	return bytes.TrimSuffix(b.Bytes(), deflateTail)
}

func TestInflateWholeTruncatedAndEmpty(t *testing.T) {
	msg := []byte(strings.Repeat("wsevents inflate ", 300))
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.BestCompression} {
		wire := deflateForTest(t, msg, level)
		in := &inflater{}
		out, err := in.inflate(wire, 1<<20)
		if err != nil || !bytes.Equal(out, msg) {
			t.Fatalf("level %d: whole message: %v, %d bytes", level, err, len(out))
		}
		// Cut inside a block: an error, never a shorter message.
		_, err = in.inflate(wire[:len(wire)/2], 1<<20)
		var f *failure
		if !errors.As(err, &f) || f.code != StatusProtocolError {
			t.Fatalf("level %d: truncated message: %v", level, err)
		}
	}
	in := &inflater{}
	for _, wire := range [][]byte{nil, {0x00}} {
		out, err := in.inflate(wire, 10)
		if err != nil || len(out) != 0 {
			t.Fatalf("empty message %x: %q %v", wire, out, err)
		}
	}
}

func TestCompressedWireLimitLeavesRoomForExpansion(t *testing.T) {
	// Stored blocks make incompressible data a little larger on the wire
	// than inflated; the inflate limit is the one that decides.
	if l := compressedLimit(1 << 20); l <= 1<<20+(1<<20)/16 {
		t.Fatalf("compressedLimit(1 MiB) = %d", l)
	}
}

func TestOfferWellFormed(t *testing.T) {
	cases := map[string]bool{
		"permessage-deflate":                                                         true,
		"permessage-deflate; client_max_window_bits":                                 true,
		"permessage-deflate; client_max_window_bits=10; server_max_window_bits=15":   true,
		"permessage-deflate; client_max_window_bits; client_max_window_bits":         false,
		"permessage-deflate; client_max_window_bits=010":                             false,
		"permessage-deflate; server_max_window_bits=09":                              false,
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover": false,
	}
	for offer, want := range cases {
		opts, ok := httphead.ParseOptions([]byte(offer), nil)
		if !ok || len(opts) != 1 {
			t.Fatalf("parse %q", offer)
		}
		if got := offerWellFormed(opts[0]); got != want {
			t.Errorf("offerWellFormed(%q) = %v, want %v", offer, got, want)
		}
	}
}
