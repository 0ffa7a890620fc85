package conformance

// Group 6: UTF-8 handling (RFC 6455 8.1: a text message that is not valid
// UTF-8 fails the connection with 1007), including fail-fast: the close
// must arrive before the rest of the message is sent.

import (
	"fmt"
	"strings"
)

// utf8Sequence is one entry of the UTF-8 decoder test list (after Markus
// Kuhn's UTF-8-test.txt, as Autobahn 6.5-6.23 uses it).
type utf8Sequence struct {
	valid bool
	p     string
}

type utf8Category struct {
	name string
	seqs []utf8Sequence
}

func utf8Categories() []utf8Category {
	v := func(ps ...string) []utf8Sequence {
		var out []utf8Sequence
		for _, p := range ps {
			out = append(out, utf8Sequence{true, p})
		}
		return out
	}
	x := func(ps ...string) []utf8Sequence {
		var out []utf8Sequence
		for _, p := range ps {
			out = append(out, utf8Sequence{false, p})
		}
		return out
	}
	kosme := "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"
	var prefixes []utf8Sequence
	for i := 1; i <= len(kosme); i++ {
		_, complete := utf8InvalidAt([]byte(kosme[:i]))
		prefixes = append(prefixes, utf8Sequence{complete, kosme[:i]})
	}
	var cont strings.Builder
	for c := 0x80; c < 0xbf; c++ {
		cont.WriteByte(byte(c))
	}
	lonely := func(from, to int) string {
		var s strings.Builder
		for c := from; c < to; c++ {
			s.WriteByte(byte(c))
			s.WriteByte(' ')
		}
		return s.String()
	}
	missing := []string{"\xc0", "\xe0\x80", "\xf0\x80\x80", "\xf8\x80\x80\x80", "\xfc\x80\x80\x80\x80",
		"\xdf", "\xef\xbf", "\xf7\xbf\xbf", "\xfb\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf"}
	var nonchars []string
	nonchars = append(nonchars, "\xef\xbf\xbe", "\xef\xbf\xbf")
	for _, z1 := range []string{"\xf0", "\xf1", "\xf2", "\xf3", "\xf4"} {
		for _, z2 := range []string{"\x8f", "\x9f", "\xaf", "\xbf"} {
			if z1 == "\xf4" && z2 != "\x8f" {
				continue // above U+10FFFF
			}
			for _, z3 := range []string{"\xbe", "\xbf"} {
				zz := z1 + z2 + "\xbf" + z3
				if zz != "\xf0\x8f\xbf\xbe" && zz != "\xf0\x8f\xbf\xbf" { // overlong
					nonchars = append(nonchars, zz)
				}
			}
		}
	}
	return []utf8Category{
		{"some valid UTF-8 sequences", v("hello\x24world", "hello\xc2\xa2world", "hello\xe2\x82\xacworld", "hello\xf0\xa4\xad\xa2world", kosme)},
		{"all prefixes of a valid UTF-8 string with multi-byte code points", prefixes},
		{"first possible sequence of a certain length", v("\x00", "\xc2\x80", "\xe0\xa0\x80", "\xf0\x90\x80\x80")},
		{"first possible sequence of length 5/6 (invalid code points)", x("\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80")},
		{"last possible sequence of a certain length", v("\x7f", "\xdf\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf")},
		{"last possible sequence of length 4/5/6 (invalid code points)", x("\xf7\xbf\xbf\xbf", "\xfb\xbf\xbf\xbf\xbf", "\xfd\xbf\xbf\xbf\xbf\xbf")},
		{"other boundary conditions", append(v("\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"), x("\xf4\x90\x80\x80")...)},
		{"unexpected continuation bytes", x("\x80", "\xbf", "\x80\xbf", "\x80\xbf\x80", "\x80\xbf\x80\xbf", "\x80\xbf\x80\xbf\x80", "\x80\xbf\x80\xbf\x80\xbf", cont.String())},
		{"lonely start characters", x(lonely(0xc0, 0xdf), lonely(0xe0, 0xef), lonely(0xf0, 0xf7), lonely(0xf8, 0xfb), lonely(0xfc, 0xfd))},
		{"sequences with the last continuation byte missing", x(missing...)},
		{"concatenation of incomplete sequences", x(strings.Join(missing, ""))},
		{"impossible bytes", x("\xfe", "\xff", "\xfe\xfe\xff\xff")},
		{"overlong ASCII character", x("\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xf8\x80\x80\x80\xaf", "\xfc\x80\x80\x80\x80\xaf")},
		{"maximum overlong sequences", x("\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", "\xf8\x87\xbf\xbf\xbf", "\xfc\x83\xbf\xbf\xbf\xbf")},
		{"overlong NUL", x("\xc0\x80", "\xe0\x80\x80", "\xf0\x80\x80\x80", "\xf8\x80\x80\x80\x80", "\xfc\x80\x80\x80\x80\x80")},
		{"single UTF-16 surrogates", x("\xed\xa0\x80", "\xed\xad\xbf", "\xed\xae\x80", "\xed\xaf\xbf", "\xed\xb0\x80", "\xed\xbe\x80", "\xed\xbf\xbf")},
		{"paired UTF-16 surrogates", x("\xed\xa0\x80\xed\xb0\x80", "\xed\xa0\x80\xed\xbf\xbf", "\xed\xad\xbf\xed\xb0\x80", "\xed\xad\xbf\xed\xbf\xbf",
			"\xed\xae\x80\xed\xb0\x80", "\xed\xae\x80\xed\xbf\xbf", "\xed\xaf\xbf\xed\xb0\x80", "\xed\xaf\xbf\xed\xbf\xbf")},
		{"non-character code points (valid UTF-8)", v(nonchars...)},
		{"Unicode specials (valid UTF-8)", v("\xef\xbf\xb9", "\xef\xbf\xba", "\xef\xbf\xbb", "\xef\xbf\xbc", "\xef\xbf\xbd", "\xef\xbf\xbe", "\xef\xbf\xbf")},
	}
}

// frameBytes encodes f with a fixed mask, for cases that split one frame's
// bytes across writes.
func frameBytes(f frame) (all []byte, headerLen int) {
	all = f.encode([4]byte{0x37, 0xfa, 0x21, 0x3d})
	return all, len(all) - len(f.payload)
}

func utf8Cases() []*tcase {
	hello := b("Hello-µ@ßöäüàá-UTF-8!!")
	kosme := b("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5") // κόσμε, 11 bytes, as Autobahn spells it
	var bytewise []frame
	for i, c := range hello {
		f := frame{op: opCont, payload: []byte{c}, fin: i == len(hello)-1}
		if i == 0 {
			f.op = opText
		}
		bytewise = append(bytewise, f)
	}
	var kosmeBytes []frame
	for i, c := range kosme {
		f := frame{op: opCont, payload: []byte{c}, fin: i == len(kosme)-1}
		if i == 0 {
			f.op = opText
		}
		kosmeBytes = append(kosmeBytes, f)
	}
	invalid := cat(kosme, b("\xed\xa0\x80edited")) // fails at byte 12 (0xa0)
	var invBytes []frame
	for i, c := range invalid {
		f := frame{op: opCont, payload: []byte{c}, fin: i == len(invalid)-1}
		if i == 0 {
			f.op = opText
		}
		invBytes = append(invBytes, f)
	}
	cs := []*tcase{
		{id: "6.1.1", desc: "empty text message", steps: []step{echo(opText, nil)}},
		{id: "6.1.2", desc: "text message of three empty fragments",
			steps: []step{send(frag(opText, nil), frame{op: opCont}, fr(opCont, nil)), expectMsg(opText, nil)}},
		{id: "6.1.3", desc: "text message: empty, 'middle frame payload', empty fragments",
			steps: []step{send(frag(opText, nil), frame{op: opCont, payload: b("middle frame payload")}, fr(opCont, nil)), expectMsg(opText, b("middle frame payload"))}},
		{id: "6.2.1", desc: "valid UTF-8 with multi-byte characters, one frame", steps: []step{send(fr(opText, hello)), expectMsg(opText, hello)}},
		{id: "6.2.2", desc: "valid UTF-8 in two fragments split on a character boundary",
			steps: []step{send(frag(opText, hello[:12]), fr(opCont, hello[12:])), expectMsg(opText, hello)}},
		{id: "6.2.3", desc: "valid UTF-8 in one-byte fragments (characters split)", steps: []step{send(bytewise...), expectMsg(opText, hello)}},
		{id: "6.2.4", desc: "'κόσμε' in one-byte fragments", steps: []step{send(kosmeBytes...), expectMsg(opText, kosme)}},
		{id: "6.3.1", desc: "invalid UTF-8 (a surrogate) in one frame -> 1007",
			steps: []step{send(fr(opText, invalid)), expectFail(1007)}},
		{id: "6.3.2", desc: "invalid UTF-8 in one-byte fragments -> 1007 at the fragment that makes it invalid (fail fast)",
			steps: []step{send(invBytes[:13]...), failFast([]int{1007}, nil, encodeAll(invBytes[13:]), false)}},
	}

	// 6.4: fail fast. PART1 valid, PART2 makes it invalid, PART3 the rest.
	p := cat(kosme, b("\xf4\x90\x80\x80edited")) // fails at byte 12 (0x90)
	p1, p2, p3 := p[:11], p[11:15], p[15:]
	cs = append(cs,
		&tcase{id: "6.4.1", desc: "fail fast: valid fragment, then a fragment with U+110000 (close 1007 before the third fragment is sent)",
			steps: []step{send(frag(opText, p1)), quiet(), send(frame{op: opCont, payload: p2}),
				failFast([]int{1007}, nil, encodeAll([]frame{fr(opCont, p3)}), false)}},
		&tcase{id: "6.4.2", desc: "fail fast: the second fragment is only the byte that makes the text invalid",
			steps: []step{send(frag(opText, p[:12])), quiet(), send(frame{op: opCont, payload: p[12:13]}),
				failFast([]int{1007}, nil, encodeAll([]frame{fr(opCont, p[13:])}), false)}},
	)
	whole, hl := frameBytes(fr(opText, p))
	cs = append(cs,
		&tcase{id: "6.4.3", desc: "fail fast within one frame: its payload written in three chops, the second making it invalid",
			steps: []step{sendBytes(whole[:hl+11]), quiet(), sendBytes(whole[hl+11 : hl+15]),
				failFast([]int{1007}, whole[hl+15:], nil, false)}},
		&tcase{id: "6.4.4", desc: "fail fast within one frame: the second chop is only the invalidating byte",
			steps: []step{sendBytes(whole[:hl+12]), quiet(), sendBytes(whole[hl+12 : hl+13]),
				failFast([]int{1007}, whole[hl+13:], nil, false)}},
	)

	// 6.5 - 6.23: the decoder test list, one message each.
	for i, cg := range utf8Categories() {
		for j, sq := range cg.seqs {
			c := &tcase{id: fmt.Sprintf("6.%d.%d", i+5, j+1)}
			p := []byte(sq.p)
			if sq.valid {
				c.desc = fmt.Sprintf("%s: valid %x -> echo", cg.name, p)
				c.steps = []step{echo(opText, p)}
			} else {
				c.desc = fmt.Sprintf("%s: invalid %x -> 1007", cg.name, p)
				c.steps = []step{sendMsg(opText, p), expectFail(1007)}
			}
			cs = append(cs, c)
		}
	}

	// 6.24: invalid UTF-8 split at every byte boundary across two
	// fragments. When the first fragment already holds the byte that makes
	// the text invalid, the close must come before the second is sent.
	n := 0
	for _, bad := range []string{"\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf",
		"\xf8\x88\x80\x80\x80", "\xff", "\x80", "\xc2\x41", "\xe2\x82\x41"} {
		msg := cat(b("κό"), b(bad), b("σμε"))
		cs = append(cs, splitCases("6.24", &n, msg)...)
	}
	// Text ending inside a character: only the end of the message shows it.
	cs = append(cs, splitCases("6.24", &n, b("κόσμε\xe2\x82"))...)

	// 6.25: valid UTF-8 with 2-, 3- and 4-byte characters split at every
	// byte boundary.
	valid := b("aκ€𝄞z")
	for k := 1; k < len(valid); k++ {
		cs = append(cs, &tcase{id: fmt.Sprintf("6.25.%d", k), desc: fmt.Sprintf("valid %x split after byte %d", valid, k),
			steps: []step{send(frag(opText, valid[:k])), quiet(), send(fr(opCont, valid[k:])), expectMsg(opText, valid)}})
	}

	// 6.26: fail fast inside one large frame (larger than any read buffer).
	big := cat(textOf(1000), b("\xed\xa0\x80"), textOf(63<<10))
	bw, bhl := frameBytes(fr(opText, big))
	cs = append(cs,
		&tcase{id: "6.26.1", desc: "64 KiB text frame with a surrogate at byte 1000: close 1007 before the frame's last 60 KiB are sent",
			steps: []step{sendBytes(bw[:bhl+4096]), failFast([]int{1007}, bw[bhl+4096:], nil, false)}},
		&tcase{id: "6.26.2", desc: "fragmented 1 MiB text, surrogate in the second 64 KiB fragment: close 1007 before the rest",
			steps: []step{send(frag(opText, textOf(64<<10))), quiet(), send(frame{op: opCont, payload: cat(textOf(1000), b("\xed\xa0\x80"), textOf(60<<10))}),
				failFast([]int{1007}, nil, encodeAll(fragment(opCont, 0, textOf(900<<10), 64<<10)), false)}},
	)
	return cs
}

// splitCases makes one case per split point of an invalid text message
// sent as two fragments.
func splitCases(prefix string, n *int, msg []byte) []*tcase {
	at, _ := utf8InvalidAt(msg)
	var cs []*tcase
	for k := 1; k < len(msg); k++ {
		*n++
		c := &tcase{id: fmt.Sprintf("%s.%d", prefix, *n)}
		first, second := frag(opText, msg[:k]), fr(opCont, msg[k:])
		if at >= 0 && at < k {
			c.desc = fmt.Sprintf("invalid %x split after byte %d; invalid from byte %d: close 1007 before the second fragment", msg, k, at)
			c.steps = []step{send(first), failFast([]int{1007}, nil, encodeAll([]frame{second}), false)}
		} else {
			c.desc = fmt.Sprintf("invalid %x split after byte %d; the first fragment is a valid prefix -> 1007 after the second", msg, k)
			c.steps = []step{send(first), quiet(), send(second), expectFail(1007)}
		}
		cs = append(cs, c)
	}
	return cs
}

// encodeAll encodes frames with a fixed mask.
func encodeAll(frames []frame) []byte {
	var out []byte
	for _, f := range frames {
		out = f.appendTo(out, [4]byte{0x5a, 0x01, 0xc3, 0x7e})
	}
	return out
}
