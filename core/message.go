package wsevents

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Message is a received event payload with its kind, for handlers that want
// more than a string: func(wsevents.Message) can inspect the kind, keep the
// bytes, or Decode JSON into a struct. Data is the handler's own copy.
type Message struct {
	Event string
	Kind  Kind
	Data  []byte
	// Asked is set when the peer sent the event with Ask and waits for the
	// answer: an answering handler's result is sent back only then.
	Asked bool
}

// String returns the payload as text: the text itself, the JSON source, or
// the raw bytes.
func (m Message) String() string { return string(m.Data) }

// Decode stores the payload in v. A JSON payload is unmarshalled; a text
// payload is stored in a *string (or unmarshalled, so "42" can fill an int);
// a binary payload is stored in a *[]byte.
func (m Message) Decode(v any) error {
	switch m.Kind {
	case KindJSON:
		return json.Unmarshal(m.Data, v)
	case KindText:
		if s, ok := v.(*string); ok {
			*s = string(m.Data)
			return nil
		}
		return json.Unmarshal(m.Data, v)
	case KindBinary:
		if b, ok := v.(*[]byte); ok {
			*b = append((*b)[:0], m.Data...)
			return nil
		}
	}
	return fmt.Errorf("%w: cannot decode %s payload into %T", ErrWrongKind, m.Kind, v)
}

// JSON adapts a func(T) to an event handler that decodes each JSON payload
// into a T. Decode errors go to the connection's OnError handlers.
//
//	c.On("move", wsevents.JSON(func(m Move) { ... }))
func JSON[T any](fn func(T)) func(Message) error {
	return func(m Message) error {
		var v T
		if err := m.Decode(&v); err != nil {
			return fmt.Errorf("wsevents: event %q: %w", m.Event, err)
		}
		fn(v)
		return nil
	}
}

// appendPayload appends the encoding of data to dst and reports its kind
// (PROTOCOL.md, Kinds). Only values outside the fixed cases go through
// encoding/json.
func appendPayload(dst []byte, data any) ([]byte, Kind, error) {
	switch v := data.(type) {
	case nil:
		return append(dst, "null"...), KindJSON, nil
	case string:
		if !utf8.ValidString(v) {
			return dst, 0, fmt.Errorf("wsevents: string payload is not valid UTF-8; send []byte for binary data")
		}
		return append(dst, v...), KindText, nil
	case []byte:
		return append(dst, v...), KindBinary, nil
	case json.RawMessage:
		if len(v) == 0 {
			return append(dst, "null"...), KindJSON, nil
		}
		return append(dst, v...), KindJSON, nil
	case Message:
		return append(dst, v.Data...), v.Kind, nil
	case bool:
		return strconv.AppendBool(dst, v), KindJSON, nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), KindJSON, nil
	case int8:
		return strconv.AppendInt(dst, int64(v), 10), KindJSON, nil
	case int16:
		return strconv.AppendInt(dst, int64(v), 10), KindJSON, nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), KindJSON, nil
	case int64:
		return strconv.AppendInt(dst, v, 10), KindJSON, nil
	case uint:
		return strconv.AppendUint(dst, uint64(v), 10), KindJSON, nil
	case uint8:
		return strconv.AppendUint(dst, uint64(v), 10), KindJSON, nil
	case uint16:
		return strconv.AppendUint(dst, uint64(v), 10), KindJSON, nil
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), KindJSON, nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), KindJSON, nil
	case float32:
		return appendFloat(dst, float64(v), 32)
	case float64:
		return appendFloat(dst, v, 64)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return dst, 0, fmt.Errorf("wsevents: encoding payload: %w", err)
	}
	return append(dst, b...), KindJSON, nil
}

func appendFloat(dst []byte, f float64, bits int) ([]byte, Kind, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, 0, fmt.Errorf("wsevents: %v has no JSON form", f)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits), KindJSON, nil
}
