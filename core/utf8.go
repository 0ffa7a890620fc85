package wsevents

import (
	"unicode/utf8"
	"unsafe"
)

func validUTF8(p []byte) bool { return utf8.Valid(p) }

// stringBytes views s as bytes without copying; the bytes are only read.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// utf8Stream validates UTF-8 that arrives in pieces (fragments, partial
// reads) and fails at the first byte that can no longer be valid, as RFC
// 6455 section 8.1 allows ("fail fast"), instead of at the message's end.
type utf8Stream struct {
	need   uint8 // continuation bytes still expected
	lo, hi byte  // allowed range of the next continuation byte
}

func (v *utf8Stream) write(p []byte) bool {
	i := 0
	for i < len(p) {
		if v.need == 0 {
			// Skip ASCII quickly; hand whole valid runs to the stdlib.
			j := i
			for j < len(p) && p[j] < 0x80 {
				j++
			}
			if j == len(p) {
				return true
			}
			i = j
			b := p[i]
			switch {
			case b >= 0xC2 && b <= 0xDF:
				v.need, v.lo, v.hi = 1, 0x80, 0xBF
			case b == 0xE0:
				v.need, v.lo, v.hi = 2, 0xA0, 0xBF
			case b == 0xED:
				v.need, v.lo, v.hi = 2, 0x80, 0x9F
			case b >= 0xE1 && b <= 0xEF:
				v.need, v.lo, v.hi = 2, 0x80, 0xBF
			case b == 0xF0:
				v.need, v.lo, v.hi = 3, 0x90, 0xBF
			case b >= 0xF1 && b <= 0xF3:
				v.need, v.lo, v.hi = 3, 0x80, 0xBF
			case b == 0xF4:
				v.need, v.lo, v.hi = 3, 0x80, 0x8F
			default:
				return false
			}
			i++
			continue
		}
		b := p[i]
		if b < v.lo || b > v.hi {
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xBF
		i++
	}
	return true
}

// complete reports whether the text ended on a character boundary.
func (v *utf8Stream) complete() bool { return v.need == 0 }

func (v *utf8Stream) reset() { *v = utf8Stream{} }
