package wsevents

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type goldenMessage struct {
	Name          string          `json:"name"`
	Frame         string          `json:"frame"`
	Wire          *string         `json:"wire"`
	WireBase64    string          `json:"wire_base64"`
	Payload       *string         `json:"payload"`
	PayloadBase64 string          `json:"payload_base64"`
	Type          string          `json:"type"`
	Kind          string          `json:"kind"`
	Event         string          `json:"event"`
	ID            uint64          `json:"id"`
	Encode        bool            `json:"encode"`
	JSON          json.RawMessage `json:"json"`
}

type goldenFile struct {
	Protocol string          `json:"protocol"`
	Valid    []goldenMessage `json:"valid"`
	Invalid  []goldenMessage `json:"invalid"`
}

func loadGolden(t testing.TB) goldenFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "protocol", "messages.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if g.Protocol != Subprotocol {
		t.Fatalf("golden file is for %q, core speaks %q", g.Protocol, Subprotocol)
	}
	if len(g.Valid) < 20 || len(g.Invalid) < 20 {
		t.Fatalf("golden file looks truncated: %d valid, %d invalid", len(g.Valid), len(g.Invalid))
	}
	return g
}

func (m goldenMessage) wire(t *testing.T) []byte {
	if m.Wire != nil {
		return []byte(*m.Wire)
	}
	b, err := base64.StdEncoding.DecodeString(m.WireBase64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (m goldenMessage) payload(t *testing.T) []byte {
	if m.Payload != nil {
		return []byte(*m.Payload)
	}
	b, err := base64.StdEncoding.DecodeString(m.PayloadBase64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenDecode(t *testing.T) {
	g := loadGolden(t)
	for _, m := range g.Valid {
		t.Run(m.Name, func(t *testing.T) {
			h, payload, err := decodeMessage(m.wire(t))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if string(h.typ) != m.Type || string(h.kind) != m.Kind || string(h.name) != m.Event || h.id != m.ID {
				t.Fatalf("got type %q kind %q event %q id %d", h.typ, h.kind, h.name, h.id)
			}
			if !bytes.Equal(payload, m.payload(t)) {
				t.Fatalf("payload %q, want %q", payload, m.payload(t))
			}
			if m.Kind == "j" {
				var got, want any
				if err := json.Unmarshal(payload, &got); err != nil {
					t.Fatal(err)
				}
				json.Unmarshal(m.JSON, &want)
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				if !bytes.Equal(gb, wb) {
					t.Fatalf("json %s, want %s", gb, wb)
				}
			}
		})
	}
	for _, m := range g.Invalid {
		t.Run("invalid/"+m.Name, func(t *testing.T) {
			if _, _, err := decodeMessage(m.wire(t)); !errors.Is(err, ErrProtocol) {
				t.Fatalf("decode of %q: err %v, want ErrProtocol", m.wire(t), err)
			}
		})
	}
}

func TestGoldenEncode(t *testing.T) {
	g := loadGolden(t)
	n := 0
	for _, m := range g.Valid {
		if !m.Encode {
			continue
		}
		n++
		got := appendHeader(nil, m.Type[0], Kind(m.Kind[0]), m.ID, m.Event)
		got = append(got, m.payload(t)...)
		if !bytes.Equal(got, m.wire(t)) {
			t.Errorf("%s: encode %q, want %q", m.Name, got, m.wire(t))
		}
	}
	if n == 0 {
		t.Fatal("no golden message to encode")
	}
}

// TestEncodeEventMatchesGolden checks the server's own emit encoder, not
// just the header helper, against the golden messages it can produce.
func TestEncodeEventMatchesGolden(t *testing.T) {
	s := New(Config{})
	cases := []struct {
		data any
		wire string
	}{
		{"hello", "et:chat\nhello"},
		{"42", "et:chat\n42"},
		{42, "ej:chat\n42"},
		{-3.5, "ej:chat\n-3.5"},
		{true, "ej:chat\ntrue"},
		{nil, "ej:chat\nnull"},
		{[]int{1, 2}, "ej:chat\n[1,2]"},
		{map[string]int{"x": 1}, "ej:chat\n{\"x\":1}"},
		{json.RawMessage(`{"a":1}`), "ej:chat\n{\"a\":1}"},
		{[]byte{0, 1}, "eb:chat\n\x00\x01"},
		{Message{Kind: KindText, Data: []byte("fwd")}, "et:chat\nfwd"},
	}
	for _, c := range cases {
		o, err := s.encodeEvent(typeEvent, 0, "chat", c.data)
		if err != nil {
			t.Fatalf("%v: %v", c.data, err)
		}
		if got := string(o.msg.body()); got != c.wire {
			t.Errorf("%#v: %q, want %q", c.data, got, c.wire)
		}
		wantOp := opText
		if c.wire[1] == 'b' {
			wantOp = opBinary
		}
		if op := o.msg.bytes()[0] & 0x0F; op != wantOp {
			t.Errorf("%#v: opcode %d, want %d", c.data, op, wantOp)
		}
		o.done()
	}
	for _, bad := range []any{"\xff", make(chan int), func() {}} {
		if _, err := s.encodeEvent(typeEvent, 0, "chat", bad); err == nil {
			t.Errorf("encoding %T succeeded", bad)
		}
	}
}

func TestValidEventName(t *testing.T) {
	for name, want := range map[string]bool{
		"chat": true, "user:join": true, "salañ": true, "a b": true,
		"": false, "a;b": false, "a\nb": false, "a\x7fb": false,
		string(make([]byte, 257)): false,
	} {
		if got := validEventName(name); got != want {
			t.Errorf("validEventName(%q) = %v", name, got)
		}
	}
}

func TestUTF8Stream(t *testing.T) {
	valid := "añ€😀 plain ascii \u00e9\U0010FFFF"
	for split := 0; split <= len(valid); split++ {
		var v utf8Stream
		if !v.write([]byte(valid[:split])) || !v.write([]byte(valid[split:])) || !v.complete() {
			t.Fatalf("valid text split at %d rejected", split)
		}
	}
	for _, bad := range []string{"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "a\x80", "\xe0\x80\xaf"} {
		var v utf8Stream
		if v.write([]byte(bad)) && v.complete() {
			t.Errorf("%q accepted", bad)
		}
	}
	// Fail fast: the first byte that cannot start or continue a character
	// fails, before the rest arrives.
	var v utf8Stream
	if v.write([]byte("ok \xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80")) {
		t.Error("surrogate not caught when it arrived")
	}
	var w utf8Stream
	if !w.write([]byte("\xe2\x82")) || w.complete() {
		t.Error("incomplete sequence must be pending, not failed")
	}
}
