package conformance

// Groups 12 and 13: permessage-deflate (RFC 7692). 12 echoes compressed
// messages of various sizes and kinds with context takeover (and its edge
// cases); 13 varies the negotiation offer. With the server's compression
// off, group 13 checks that every offer is declined and plain messages
// still work.

import (
	"compress/flate"
	"fmt"
)

// msgSizes mirrors Autobahn's 12/13 table: payload size and the
// fragment size the compressed payload is cut into (0: one frame).
var msgSizes = []struct{ n, frag int }{
	{16, 0}, {64, 0}, {256, 0}, {1024, 0}, {4096, 0}, {8192, 0}, {16384, 0}, {32768, 0}, {65536, 0}, {131072, 0},
	{8192, 256}, {16384, 256}, {32768, 256}, {65536, 256}, {131072, 256}, {131072, 1024}, {131072, 4096}, {131072, 32768},
}

type dataset struct {
	desc string
	op   byte
	data func(int) []byte
}

var datasets = []dataset{
	{"JSON-like text", opText, jsonOf},
	{"multi-byte UTF-8 text", opText, textOf},
	{"compressible binary", opBinary, binOf},
	{"incompressible binary", opBinary, randOf},
	{"zeros", opBinary, zerosOf},
}

// window sends count messages of n bytes cut from data, each overlapping
// the previous one by half (so that with context takeover the compressor
// refers back into the previous message), each after the previous echo.
func window(ds dataset, n, fragSize, count int) step {
	const total = 1 << 20
	data := ds.data(total + 131072)
	return func(s *session, o *outcome) bool {
		for k := range count {
			off := (k * max(n/2, 1)) % (total - n)
			p := data[off : off+n]
			if ds.op == opText {
				p = fixedUTF8(p)
			}
			if !echoFrag(ds.op, p, fragSize)(s, o) {
				return false
			}
		}
		return true
	}
}

// fixedUTF8 trims p to whole characters at both ends (cut text from a
// larger text).
func fixedUTF8(p []byte) []byte {
	for len(p) > 0 && p[0]&0xC0 == 0x80 {
		p = p[1:]
	}
	return fixTail(append([]byte(nil), p...))
}

func deflateCases() []*tcase {
	var cs []*tcase
	for j, ds := range datasets {
		for i, ms := range msgSizes {
			cs = append(cs, &tcase{
				id:    fmt.Sprintf("12.%d.%d", j+1, i+1),
				desc:  fmt.Sprintf("%s: 20 compressed messages of %d bytes, compressed payload cut in %d-byte fragments, context takeover", ds.desc, ms.n, ms.frag),
				modes: onOnly, steps: []step{window(ds, ms.n, ms.frag, 20)},
			})
		}
	}

	ten := jsonOf(10 << 10)
	hello := b("Hello, compressed world! Hello, compressed world!")
	garbage := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	truncated := func(op byte, p []byte, level int) step {
		return func(s *session, o *outcome) bool {
			d := &deflater{level: level}
			z := d.compress(p)
			s.tracef("-> compressed %s truncated to %d of %d bytes", opName(op), len(z)/2, len(z))
			writeOK(s, s.writeFrames(frame{fin: true, rsv: rsv1, op: op, payload: z[:len(z)/2]}))
			return true
		}
	}
	sendFinal := func(op byte, p []byte) step {
		return func(s *session, o *outcome) bool {
			z := s.deflater.compressFinal(p)
			writeOK(s, s.writeFrames(frame{fin: true, rsv: rsv1, op: op, payload: z}))
			return true
		}
	}
	invalidText := cat(textOf(300), b("\xed\xa0\x80"), textOf(300))
	cs = append(cs,
		&tcase{id: "12.6.1", desc: "the same 10 KiB message three times with context takeover (later ones are back-references)", modes: onOnly,
			steps: []step{echo(opText, ten), echo(opText, ten), echo(opText, ten)}},
		&tcase{id: "12.6.2", desc: "the same 10 KiB message three times, client_no_context_takeover", modes: onOnly,
			offer: "permessage-deflate; client_no_context_takeover", steps: []step{echo(opText, ten), echo(opText, ten), echo(opText, ten)}},
		&tcase{id: "12.6.3", desc: "a message ending in a BFINAL block (RFC 7692 7.2.3.4) between messages with context takeover", modes: onOnly,
			steps: []step{echo(opText, ten), sendFinal(opText, ten), expectMsg(opText, ten), echo(opText, ten)}},
		&tcase{id: "12.6.4", desc: "empty compressed message (empty payload with RSV1)", modes: onOnly,
			steps: []step{send(frame{fin: true, rsv: rsv1, op: opText}), expectMsg(opText, nil)}},
		&tcase{id: "12.6.5", desc: "empty compressed message as the single byte 0x00 (RFC 7692 7.2.3.6)", modes: onOnly,
			steps: []step{send(frame{fin: true, rsv: rsv1, op: opBinary, payload: []byte{0x00}}), expectMsg(opBinary, nil)}},
		&tcase{id: "12.6.6", desc: "uncompressed message between compressed ones with context takeover", modes: onOnly,
			steps: []step{echo(opText, ten), send(fr(opText, ten)), expectMsg(opText, ten), echo(opText, ten)}},
		&tcase{id: "12.6.7", desc: "compressed text in one-byte fragments", modes: onOnly,
			steps: []step{echoFrag(opText, jsonOf(2000), 1)}},
		&tcase{id: "12.6.8", desc: "compressed text in fragments with a ping between", modes: onOnly,
			steps: []step{func(s *session, o *outcome) bool {
				fs := messageFrames(s, opText, ten, 64)
				writeOK(s, s.writeFrames(append(append(fs[:1:1], fr(opPing, hello)), fs[1:]...)...))
				return true
			}, expectPong(hello), expectMsg(opText, ten)}},
		&tcase{id: "12.6.9", desc: "compressed text that inflates to invalid UTF-8 -> 1007", modes: onOnly,
			steps: []step{sendMsg(opText, invalidText), expectFail(1007)}},
		&tcase{id: "12.6.10", desc: "compressed text in 16-byte fragments that inflates to invalid UTF-8 -> 1007", modes: onOnly,
			steps: []step{sendFrag(opText, invalidText, 16), expectFail(1007)}},
		&tcase{id: "12.6.11", desc: "RSV1 message that is not deflate data -> 1002", modes: onOnly,
			steps: []step{send(frame{fin: true, rsv: rsv1, op: opBinary, payload: garbage}), expectFail(1002, 1007)}},
		&tcase{id: "12.6.12", desc: "deflate data cut in the middle of a stored block (a truncated message) -> failed with 1002, not delivered shortened", modes: onOnly,
			steps: []step{truncated(opBinary, binOf(4000), flate.NoCompression), expectFail(1002, 1007)}},
		&tcase{id: "12.6.13", desc: "compressed text, one byte per write", modes: onOnly, chop: chopBytes,
			steps: []step{echo(opText, jsonOf(3000))}},
		&tcase{id: "12.6.14", desc: "compressed text in random chops, 50 messages pipelined", modes: onOnly, chop: chopRandom,
			steps: []step{pipeline(50, opText, jsonOf(5000))}},
		&tcase{id: "12.6.15", desc: "stored (uncompressed) deflate blocks", modes: onOnly, level: lvl(flate.NoCompression),
			steps: []step{echo(opBinary, binOf(100000)), echo(opText, textOf(70000))}},
		&tcase{id: "12.6.16", desc: "Huffman-only deflate blocks", modes: onOnly, level: lvl(flate.HuffmanOnly),
			steps: []step{echo(opBinary, binOf(100000)), echo(opText, textOf(70000))}},
		&tcase{id: "12.6.18", desc: "compressed text cut in the middle of a deflate block -> failed (1002 or 1007)", modes: onOnly,
			steps: []step{truncated(opText, jsonOf(4000), flate.BestCompression), expectFail(1002, 1007)}},
		&tcase{id: "12.6.19", desc: "compressed binary cut in the middle of a Huffman block -> failed (1002)", modes: onOnly,
			steps: []step{truncated(opBinary, binOf(4000), flate.BestCompression), expectFail(1002, 1007)}},
		&tcase{id: "12.6.17", desc: "maximum compression, context takeover over 30 messages", modes: onOnly, level: lvl(flate.BestCompression),
			steps: []step{window(datasets[0], 20000, 0, 30)}},
	)
	return cs
}

func negotiationCases() []*tcase {
	var cs []*tcase
	autobahn := []struct {
		offer string
		neg   negExpect
	}{
		{"permessage-deflate", negAccept},
		{"permessage-deflate; client_no_context_takeover", negAccept},
		{"permessage-deflate; server_max_window_bits=8", negMay},
		{"permessage-deflate; server_max_window_bits=15", negMay},
		{"permessage-deflate; client_no_context_takeover; server_max_window_bits=8", negMay},
		{"permessage-deflate; client_no_context_takeover; server_max_window_bits=15", negMay},
		{"permessage-deflate; client_no_context_takeover; server_max_window_bits=8, permessage-deflate; client_no_context_takeover, permessage-deflate", negAccept},
	}
	// A subset of Autobahn's sizes, keeping its numbering.
	for j, a := range autobahn {
		for _, i := range []int{1, 4, 9, 10, 15, 18} {
			ms := msgSizes[i-1]
			cs = append(cs, &tcase{
				id:    fmt.Sprintf("13.%d.%d", j+1, i),
				desc:  fmt.Sprintf("offer %q: 10 messages of %d bytes (fragments of %d)", a.offer, ms.n, ms.frag),
				offer: a.offer, neg: a.neg, steps: []step{window(datasets[0], ms.n, ms.frag, 10)},
			})
		}
	}
	echoSome := []step{window(datasets[0], 3000, 0, 3), window(datasets[2], 70000, 0, 2)}
	add := func(sub int, neg negExpect, desc string, offers ...string) {
		for k, of := range offers {
			cs = append(cs, &tcase{id: fmt.Sprintf("13.%d.%d", sub, k+1), desc: fmt.Sprintf("%s: offer %q", desc, of),
				offer: of, neg: neg, steps: echoSome})
		}
	}
	add(8, negAccept, "client_max_window_bits",
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; client_max_window_bits=8", "permessage-deflate; client_max_window_bits=9",
		"permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=11",
		"permessage-deflate; client_max_window_bits=12", "permessage-deflate; client_max_window_bits=13",
		"permessage-deflate; client_max_window_bits=14", "permessage-deflate; client_max_window_bits=15",
		"permessage-deflate; client_max_window_bits; client_no_context_takeover")
	add(9, negMay, "server_max_window_bits below 15 (accept with at most that, or decline)",
		"permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=10",
		"permessage-deflate; server_max_window_bits=11", "permessage-deflate; server_max_window_bits=12",
		"permessage-deflate; server_max_window_bits=13", "permessage-deflate; server_max_window_bits=14",
		"permessage-deflate; server_max_window_bits=9; client_max_window_bits=9")
	add(10, negAccept, "server_no_context_takeover",
		"permessage-deflate; server_no_context_takeover",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15")
	cs = append(cs,
		&tcase{id: "13.10.4", desc: "all four parameters", neg: negMay, steps: echoSome,
			offer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15"},
		&tcase{id: "13.10.5", desc: "quoted value client_max_window_bits=\"10\"", neg: negMay, steps: echoSome,
			offer: `permessage-deflate; client_max_window_bits="10"`},
		&tcase{id: "13.10.6", desc: "spacing: no space after ';'", neg: negAccept, steps: echoSome,
			offer: "permessage-deflate;client_no_context_takeover;client_max_window_bits"},
	)
	add(11, negDecline, "invalid offer the server MUST decline (and still accept the connection)",
		"permessage-deflate; server_max_window_bits=7",
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; client_max_window_bits=16",
		"permessage-deflate; client_max_window_bits=7",
		"permessage-deflate; foo",
		"permessage-deflate; foo=bar",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"permessage-deflate; client_max_window_bits; client_max_window_bits",
		"permessage-deflate; client_no_context_takeover=1",
		"permessage-deflate; client_max_window_bits=010",
		"permessage-deflate; client_max_window_bits=abc",
		"permessage-deflate; client_max_window_bits=10; client_max_window_bits=11",
		"permessage-deflate; server_no_context_takeover=\"x\"")
	add(12, negAccept, "several offers: the server picks one it can honour",
		"x-webkit-deflate-frame, permessage-deflate",
		"permessage-deflate; server_max_window_bits=10, permessage-deflate",
		"permessage-deflate; foo, permessage-deflate; client_no_context_takeover",
		"permessage-deflate; server_max_window_bits=16, permessage-deflate; client_max_window_bits")
	cs = append(cs, &tcase{id: "13.12.5", desc: "window 8, then an invalid offer: accept with server_max_window_bits=8 or decline", neg: negMay,
		offer: "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=16", steps: echoSome})
	return cs
}
