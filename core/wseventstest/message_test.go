package wseventstest

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	wsevents "github.com/wsevents/wsevents/core"
)

// The kit's codec is checked against the same golden messages as core's
// and the JS client's, so a disagreement is a bug on one side, not a
// matter of opinion.
type golden struct {
	Name          string  `json:"name"`
	Frame         string  `json:"frame"`
	Wire          *string `json:"wire"`
	WireBase64    string  `json:"wire_base64"`
	Payload       *string `json:"payload"`
	PayloadBase64 string  `json:"payload_base64"`
	Type          string  `json:"type"`
	Kind          string  `json:"kind"`
	Event         string  `json:"event"`
	ID            uint64  `json:"id"`
	Encode        bool    `json:"encode"`
}

func (g golden) bytes(t *testing.T, s *string, b64 string) []byte {
	t.Helper()
	if s != nil {
		return []byte(*s)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadGolden(t *testing.T) (valid, invalid []golden) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "protocol", "messages.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Protocol string   `json:"protocol"`
		Valid    []golden `json:"valid"`
		Invalid  []golden `json:"invalid"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.Protocol != wsevents.Subprotocol || len(f.Valid) < 20 || len(f.Invalid) < 20 {
		t.Fatalf("golden file for %q with %d valid, %d invalid messages: wrong or truncated", f.Protocol, len(f.Valid), len(f.Invalid))
	}
	return f.Valid, f.Invalid
}

func TestGoldenMessages(t *testing.T) {
	valid, invalid := loadGolden(t)
	for _, g := range valid {
		t.Run(g.Name, func(t *testing.T) {
			wire := g.bytes(t, g.Wire, g.WireBase64)
			want := Message{
				Type: g.Type[0], Kind: wsevents.Kind(g.Kind[0]), ID: g.ID, Name: g.Event,
				Payload: g.bytes(t, g.Payload, g.PayloadBase64),
			}
			got, err := Decode(wire)
			if err != nil {
				t.Fatalf("Decode(%q): %v", wire, err)
			}
			if !got.Equal(want) {
				t.Errorf("Decode(%q) = %v, want %v", wire, got, want)
			}
			if !g.Encode {
				return
			}
			data, binary := want.Encode()
			if string(data) != string(wire) {
				t.Errorf("Encode = %q, want %q", data, wire)
			}
			// A t or j message in a binary frame is a sender's choice
			// (Config.BinaryMessages); the kit's client never makes it.
			if binary != (want.Kind == wsevents.KindBinary) || (binary && g.Frame != "binary") {
				t.Errorf("Encode says binary frame %v for kind %c, golden frame is %q", binary, want.Kind, g.Frame)
			}
		})
	}
	for _, g := range invalid {
		t.Run("invalid/"+g.Name, func(t *testing.T) {
			wire := g.bytes(t, g.Wire, g.WireBase64)
			if m, err := Decode(wire); err == nil {
				t.Errorf("Decode(%q) = %v, want an error", wire, m)
			}
		})
	}
}
