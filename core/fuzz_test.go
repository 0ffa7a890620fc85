package wsevents

import (
	"bytes"
	"testing"
)

// FuzzDecodeMessage checks the decoder never panics, and that whatever it
// accepts re-encodes to the same bytes (extensions aside: v1 drops them)
// and decodes again to the same message.
func FuzzDecodeMessage(f *testing.F) {
	g := loadGolden(f)
	for _, m := range append(g.Valid, g.Invalid...) {
		if m.Wire != nil {
			f.Add([]byte(*m.Wire))
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		h, payload, err := decodeMessage(p)
		if err != nil {
			return
		}
		if bytes.IndexByte(p[:bytes.IndexByte(p, '\n')], ';') >= 0 {
			return // extensions are not re-encoded
		}
		re := appendHeader(nil, h.typ, h.kind, h.id, string(h.name))
		re = append(re, payload...)
		if !bytes.Equal(re, p) {
			t.Fatalf("re-encoded %q, decoded from %q", re, p)
		}
		h2, payload2, err := decodeMessage(re)
		if err != nil || h2.typ != h.typ || h2.kind != h.kind || h2.id != h.id ||
			!bytes.Equal(h2.name, h.name) || !bytes.Equal(payload2, payload) {
			t.Fatalf("round trip of %q changed it: %v", p, err)
		}
	})
}

// FuzzUTF8Stream checks the streaming validator against the standard
// library for every split point of the input.
func FuzzUTF8Stream(f *testing.F) {
	for _, s := range []string{"", "abc", "añ€😀", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, p []byte, split uint8) {
		at := int(split) % (len(p) + 1)
		var v utf8Stream
		got := v.write(p[:at]) && v.write(p[at:]) && v.complete()
		if want := validUTF8(p); got != want {
			t.Fatalf("%q split at %d: stream says %v, utf8.Valid %v", p, at, got, want)
		}
	})
}
