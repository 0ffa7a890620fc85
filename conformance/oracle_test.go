package conformance

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// TestUTF8Oracle checks the suite's own fail-fast oracle against the
// standard library: a complete valid prefix is exactly valid UTF-8.
func TestUTF8Oracle(t *testing.T) {
	check := func(p []byte) {
		at, complete := utf8InvalidAt(p)
		if got, want := at < 0 && complete, utf8.Valid(p); got != want {
			t.Fatalf("%x: oracle says valid=%v, utf8.Valid=%v", p, got, want)
		}
		if at >= 0 && at < len(p)-1 {
			// Nothing after the first impossible byte can repair it.
			if a2, _ := utf8InvalidAt(p[:at+1]); a2 != at {
				t.Fatalf("%x: invalid at %d, prefix says %d", p, at, a2)
			}
		}
	}
	for i := range 1 << 16 {
		check([]byte{byte(i >> 8), byte(i)})
	}
	for i := range 1 << 24 / 64 {
		v := i * 64
		check([]byte{byte(v >> 16), byte(v >> 8), byte(v)})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		p := make([]byte, 1+r.IntN(8))
		for i := range p {
			p[i] = []byte{0x41, 0x80, 0xBF, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0x9F, 0xA0, 0x8F, 0x90, byte(r.Uint32())}[r.IntN(13)]
		}
		check(p)
	}
}

// TestFraming checks the client's frame encoder against its decoder.
func TestFraming(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		p := binOf(n)
		f := frame{fin: true, op: opBinary, payload: p, unmasked: true}
		got, err := readFrame(bufio.NewReader(bytes.NewReader(f.encode([4]byte{}))), 1<<20)
		if err != nil || !bytes.Equal(got.payload, p) || !got.fin || got.op != opBinary {
			t.Fatalf("length %d: %v", n, err)
		}
		m := frame{fin: true, op: opText, payload: p}.encode([4]byte{1, 2, 3, 4})
		q := append([]byte(nil), m[len(m)-n:]...)
		maskBytes(q, [4]byte{1, 2, 3, 4}, 0)
		if !bytes.Equal(q, p) {
			t.Fatalf("length %d: mask does not round-trip", n)
		}
	}
}
