package conformance

// Groups 1 to 5: framing, ping/pong, reserved bits, opcodes,
// fragmentation. Numbers follow the Autobahn|Testsuite where it has the
// case; numbers past Autobahn's last in a subgroup are this suite's own
// additions.

import (
	"fmt"
	"time"
)

func framingCases() []*tcase {
	var cs []*tcase
	sizes := []int{0, 125, 126, 127, 128, 65535, 65536}
	for i, n := range sizes {
		cs = append(cs, &tcase{
			id: fmt.Sprintf("1.1.%d", i+1), desc: fmt.Sprintf("text message of %d bytes, one frame", n),
			steps: []step{echo(opText, asciiOf(n))}, variants: n == 125 || n == 126,
		})
	}
	cs = append(cs, &tcase{id: "1.1.8", desc: "text message of 65536 bytes, written in 997-byte chops",
		chop: chopFixed, chopSize: 997, steps: []step{echo(opText, asciiOf(65536))}})
	for i, n := range sizes {
		cs = append(cs, &tcase{
			id: fmt.Sprintf("1.2.%d", i+1), desc: fmt.Sprintf("binary message of %d bytes, one frame", n),
			steps: []step{echo(opBinary, binOf(n))}, variants: n == 127 || n == 128,
		})
	}
	cs = append(cs, &tcase{id: "1.2.8", desc: "binary message of 65536 bytes, written in 997-byte chops",
		chop: chopFixed, chopSize: 997, steps: []step{echo(opBinary, binOf(65536))}})

	// 1.3: framing rules Autobahn does not test.
	hello := b("Hello, world!")
	cs = append(cs,
		&tcase{id: "1.3.1", desc: "unmasked client frame (RFC 6455 5.1: server MUST fail) -> 1002",
			steps: []step{send(frame{fin: true, op: opText, payload: hello, unmasked: true}), expectFail(1002)}},
		&tcase{id: "1.3.2", desc: "5-byte text with a 16-bit length (RFC 6455 5.2: minimal length MUST be used) -> 1002",
			steps: []step{send(frame{fin: true, op: opText, payload: b("Hello"), lenBytes: 2}), expectFail(1002)}},
		&tcase{id: "1.3.3", desc: "200-byte binary with a 64-bit length (not minimal) -> 1002",
			steps: []step{send(frame{fin: true, op: opBinary, payload: binOf(200), lenBytes: 8}), expectFail(1002)}},
		&tcase{id: "1.3.4", desc: "64-bit length with the most significant bit set (RFC 6455 5.2) -> 1002",
			steps: []step{sendBytes(header(true, 0, opBinary, 1<<63|5, &[4]byte{1, 2, 3, 4}, 8)), expectFail(1002)}},
		&tcase{id: "1.3.5", desc: "text frame pipelined behind the handshake request, before the 101",
			pipelined: []frame{fr(opText, hello)}, steps: []step{expectMsg(opText, hello)}, variants: true},
		&tcase{id: "1.3.6", desc: "text frame and close pipelined behind the handshake request",
			pipelined: []frame{fr(opText, hello), fr(opClose, closePayload(1000, ""))},
			steps:     []step{expectMsg(opText, hello), expectClose(1000)}},
		&tcase{id: "1.3.7", desc: "100 messages of 0..99 bytes in one write, echoed in order",
			steps: []step{burst(100)}, variants: true},
		&tcase{id: "1.3.8", desc: "masked empty text and binary frames, 64-bit-free lengths 0..3",
			steps: []step{echo(opText, nil), echo(opBinary, nil), echo(opText, b("a")), echo(opBinary, b("\x00\x01\x02"))}},
	)
	return cs
}

// burst sends n messages in one write and expects them back in order.
func burst(n int) step {
	return func(s *session, o *outcome) bool {
		var frames []frame
		var want []step
		for i := range n {
			op := opText
			p := textOf(i)
			if i%2 == 1 {
				op, p = opBinary, binOf(i)
			}
			frames = append(frames, messageFrames(s, op, p, 0)...)
			want = append(want, expectMsg(op, p))
		}
		writeOK(s, s.writeFrames(frames...))
		return seq(want...)(s, o)
	}
}

// expectClose expects a close frame with code (the server answering ours
// or closing on its own) and then TCP closed.
func expectClose(code int) step {
	return func(s *session, o *outcome) bool {
		e, ok := nextEvent(s, o, "close frame")
		if !ok {
			return false
		}
		if e.kind != evClose {
			o.failed("expected close %d, got %s", code, e)
			return false
		}
		if e.code != code {
			o.nonStrict("answered close %d with %d: %s", code, e.code, rfcEchoCode)
		}
		expectTCPClose(s, o)
		return false
	}
}

func pingCases() []*tcase {
	hello := b("Hello, world!")
	bin := []byte{0x00, 0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0x00, 0xff}
	var pings []frame
	var payloads [][]byte
	for i := range 10 {
		p := b(fmt.Sprintf("payload-%d", i))
		pings = append(pings, fr(opPing, p))
		payloads = append(payloads, p)
	}
	sentinel := b("sentinel")
	return []*tcase{
		{id: "2.1", desc: "ping without payload -> pong without payload",
			steps: []step{send(fr(opPing, nil)), expectPong(nil)}},
		{id: "2.2", desc: "ping with a text payload -> pong with the same payload",
			steps: []step{send(fr(opPing, hello)), expectPong(hello)}},
		{id: "2.3", desc: "ping with a binary payload",
			steps: []step{send(fr(opPing, bin)), expectPong(bin)}},
		{id: "2.4", desc: "ping with a 125-byte payload (the maximum)",
			steps: []step{send(fr(opPing, binOf(125))), expectPong(binOf(125))}, variants: true},
		{id: "2.5", desc: "ping with a 126-byte payload (control frames are at most 125, RFC 6455 5.5) -> 1002",
			steps: []step{send(fr(opPing, binOf(126))), expectFail(1002)}},
		{id: "2.6", desc: "ping with a 125-byte payload, one byte per write",
			chop: chopBytes, steps: []step{send(fr(opPing, binOf(125))), expectPong(binOf(125))}},
		{id: "2.7", desc: "unsolicited pong without payload is ignored",
			steps: []step{send(fr(opPong, nil), fr(opPing, sentinel)), expectPong(sentinel)}},
		{id: "2.8", desc: "unsolicited pong with payload is ignored",
			steps: []step{send(fr(opPong, b("unsolicited pong payload")), fr(opPing, sentinel)), expectPong(sentinel)}},
		{id: "2.9", desc: "unsolicited pong, then ping: only the ping is answered",
			steps: []step{send(fr(opPong, b("unsolicited pong payload")), fr(opPing, b("ping payload"))), expectPong(b("ping payload"))}},
		{id: "2.10", desc: "10 pings in one write -> 10 pongs in order",
			steps: []step{send(pings...), expectPongsInOrder(payloads)}},
		{id: "2.11", desc: "10 pings, one byte per write -> 10 pongs in order",
			chop: chopBytes, steps: []step{send(pings...), expectPongsInOrder(payloads)}},
		{id: "2.12", desc: "ping of 100 bytes with a 16-bit length (not minimal) -> 1002",
			steps: []step{send(frame{fin: true, op: opPing, payload: binOf(100), lenBytes: 2}), expectFail(1002)}},
		{id: "2.13", desc: "ping with a 64-bit length field -> 1002",
			steps: []step{send(frame{fin: true, op: opPing, payload: binOf(10), lenBytes: 8}), expectFail(1002)}},
	}
}

// expectPongsInOrder expects a pong for each ping, in order. RFC 6455
// 5.5.3 lets a server answer only the most recent of pings it has not
// answered yet: skipped pongs are NON-STRICT, reordered ones FAILED.
func expectPongsInOrder(payloads [][]byte) step {
	return func(s *session, o *outcome) bool {
		next := 0
		for next < len(payloads) {
			e, ok := nextEvent(s, o, fmt.Sprintf("pong %d of %d", next+1, len(payloads)))
			if !ok {
				return false
			}
			if e.kind != evPong {
				o.failed("expected pong %d, got %s", next+1, e)
				return false
			}
			i := next
			for i < len(payloads) && string(payloads[i]) != string(e.payload) {
				i++
			}
			if i == len(payloads) {
				o.failed("pong %s does not answer any outstanding ping (in order)", preview(e.payload))
				return false
			}
			if i > next {
				o.nonStrict("%d ping(s) not answered before a later one: RFC 6455 5.5.3 allows answering only the most recent, TESTING.md wants every ping answered", i-next)
			}
			next = i + 1
		}
		return true
	}
}

func rsvCases() []*tcase {
	hello := b("Hello, world!")
	sentinel := fr(opPing, nil)
	withRSV := func(f frame, rsv byte) frame { f.rsv = rsv; return f }
	cs := []*tcase{
		{id: "3.1", desc: "text with RSV3 set, no extension -> 1002",
			steps: []step{send(withRSV(fr(opText, hello), 1)), expectFail(1002)}},
		{id: "3.2", desc: "text echoed, then text with RSV2, then ping -> 1002, no pong",
			steps: []step{echo(opText, hello), send(withRSV(fr(opText, hello), 2), sentinel), expectFail(1002)}},
		{id: "3.3", desc: "text echoed, then text with RSV2+RSV3, then ping -> 1002, no pong",
			steps: []step{echo(opText, hello), send(withRSV(fr(opText, hello), 3), sentinel), expectFail(1002)}},
		{id: "3.4", desc: "text echoed, then text with RSV1 (no extension negotiated), then ping, one byte per write -> 1002",
			chop: chopBytes, steps: []step{echo(opText, hello), send(withRSV(fr(opText, hello), 4), sentinel), expectFail(1002)}},
		{id: "3.5", desc: "binary with RSV1+RSV3 -> 1002",
			steps: []step{send(withRSV(fr(opBinary, binOf(8)), 5)), expectFail(1002)}},
		{id: "3.6", desc: "ping with RSV1+RSV2 -> 1002",
			steps: []step{send(withRSV(fr(opPing, hello), 6)), expectFail(1002)}},
		{id: "3.7", desc: "close with all RSV bits -> 1002",
			steps: []step{send(withRSV(fr(opClose, closePayload(1000, "")), 7)), expectFail(1002)}},
		{id: "3.8", desc: "continuation frame with RSV1, no extension -> 1002",
			steps: []step{send(frag(opText, b("frag1")), withRSV(fr(opCont, b("frag2")), 4)), expectFail(1002)}},
		{id: "3.9", desc: "pong with RSV2 -> 1002",
			steps: []step{send(withRSV(fr(opPong, nil), 2)), expectFail(1002)}},
		// With permessage-deflate negotiated, RSV1 means "compressed" on the
		// first frame of a data message only (RFC 7692 6.1).
		{id: "3.10", desc: "permessage-deflate: ping with RSV1 -> 1002", modes: onOnly,
			steps: []step{send(withRSV(fr(opPing, nil), 4)), expectFail(1002)}},
		{id: "3.11", desc: "permessage-deflate: RSV1 on a continuation frame -> 1002", modes: onOnly,
			steps: []step{send(frag(opText, b("frag1")), withRSV(fr(opCont, b("frag2")), 4)), expectFail(1002)}},
		{id: "3.12", desc: "permessage-deflate: text with RSV2 -> 1002", modes: onOnly,
			steps: []step{send(withRSV(fr(opText, hello), 2)), expectFail(1002)}},
		{id: "3.13", desc: "permessage-deflate: close with RSV1 -> 1002", modes: onOnly,
			steps: []step{send(withRSV(fr(opClose, closePayload(1000, "")), 4)), expectFail(1002)}},
	}
	for _, c := range cs[:9] {
		c.noOffer = true
	}
	return cs
}

func opcodeCases() []*tcase {
	hello := b("Hello, world!")
	var cs []*tcase
	for sub, ops := range [][]byte{{3, 4, 5, 6, 7}, {11, 12, 13, 14, 15}} {
		kind := "non-control"
		if sub == 1 {
			kind = "control"
		}
		for i, op := range ops {
			id := fmt.Sprintf("4.%d.%d", sub+1, i+1)
			var c *tcase
			switch i {
			case 0:
				c = &tcase{desc: fmt.Sprintf("reserved %s opcode %d, empty -> 1002", kind, op),
					steps: []step{send(fr(op, nil)), expectFail(1002)}}
			case 1:
				c = &tcase{desc: fmt.Sprintf("reserved %s opcode %d with payload -> 1002", kind, op),
					steps: []step{send(fr(op, b("reserved opcode payload"))), expectFail(1002)}}
			default:
				var p []byte
				if i > 2 {
					p = b("reserved opcode payload")
				}
				c = &tcase{desc: fmt.Sprintf("text echoed, then reserved %s opcode %d, then ping -> 1002, no pong", kind, op),
					steps: []step{echo(opText, hello), send(fr(op, p), fr(opPing, nil)), expectFail(1002)}}
			}
			c.id = id
			cs = append(cs, c)
		}
	}
	return cs
}

func fragmentationCases() []*tcase {
	f1, f2 := b("fragment1"), b("fragment2")
	twoFrags := []frame{frag(opText, f1), fr(opCont, f2)}
	withPing := []frame{frag(opText, f1), fr(opPing, b("ping payload")), fr(opCont, f2)}
	contFirst := func(fin bool) []frame {
		return []frame{{fin: fin, op: opCont, payload: f1}, fr(opText, b("Hello, world!"))}
	}
	pingPong := []step{send(withPing...), expectPong(b("ping payload")), expectMsg(opText, cat(f1, f2))}
	five := func() []step {
		return []step{
			send(frag(opText, b("fragment1"))), pause(50 * time.Millisecond),
			send(frame{op: opCont, payload: b("fragment2")}), pause(50 * time.Millisecond),
			send(fr(opPing, b("pongme 1!"))), expectPong(b("pongme 1!")),
			send(frame{op: opCont, payload: b("fragment3")}), pause(50 * time.Millisecond),
			send(frame{op: opCont, payload: b("fragment4")}), pause(50 * time.Millisecond),
			send(fr(opPing, b("pongme 2!"))), expectPong(b("pongme 2!")),
			send(fr(opCont, b("fragment5"))),
			expectMsg(opText, b("fragment1fragment2fragment3fragment4fragment5")),
		}
	}
	seq516 := func(fin bool) []frame {
		one := []frame{{fin: fin, op: opCont, payload: f1}, frag(opText, f2), fr(opCont, b("fragment3"))}
		return append(one, one...)
	}
	var many []frame
	var manyPongs []event
	msg := binOf(1000)
	for i := range 100 {
		f := frame{op: opCont, payload: msg[i*10 : i*10+10], fin: i == 99}
		if i == 0 {
			f.op = opBinary
		}
		p := b(fmt.Sprintf("ping %d", i))
		many = append(many, f, fr(opPing, p))
		manyPongs = append(manyPongs, event{kind: evPong, payload: p})
	}
	var oneByte []frame
	for i, c := range textOf(200) {
		f := frame{op: opCont, payload: []byte{c}, fin: i == 199}
		if i == 0 {
			f.op = opText
		}
		oneByte = append(oneByte, f)
	}
	return []*tcase{
		{id: "5.1", desc: "ping in two fragments (control frames MUST NOT be fragmented) -> 1002",
			steps: []step{send(frame{op: opPing, payload: f1}, fr(opCont, f2)), expectFail(1002)}},
		{id: "5.2", desc: "pong in two fragments -> 1002",
			steps: []step{send(frame{op: opPong, payload: f1}, fr(opCont, f2)), expectFail(1002)}},
		{id: "5.3", desc: "text in two fragments",
			steps: []step{send(twoFrags...), expectMsg(opText, cat(f1, f2))}},
		{id: "5.4", desc: "text in two fragments, random chops", chop: chopRandom,
			steps: []step{send(twoFrags...), expectMsg(opText, cat(f1, f2))}},
		{id: "5.5", desc: "text in two fragments, one byte per write", chop: chopBytes,
			steps: []step{send(twoFrags...), expectMsg(opText, cat(f1, f2))}},
		{id: "5.6", desc: "text in two fragments with a ping between -> pong, then echo", steps: pingPong},
		{id: "5.7", desc: "5.6 in random chops", chop: chopRandom, steps: pingPong},
		{id: "5.8", desc: "5.6 one byte per write", chop: chopBytes, steps: pingPong},
		{id: "5.9", desc: "continuation (FIN) with nothing to continue, then text -> 1002",
			steps: []step{send(contFirst(true)...), expectFail(1002)}},
		{id: "5.10", desc: "5.9 in random chops", chop: chopRandom,
			steps: []step{send(contFirst(true)...), expectFail(1002)}},
		{id: "5.11", desc: "5.9 one byte per write", chop: chopBytes,
			steps: []step{send(contFirst(true)...), expectFail(1002)}},
		{id: "5.12", desc: "continuation (no FIN) with nothing to continue, then text -> 1002",
			steps: []step{send(contFirst(false)...), expectFail(1002)}},
		{id: "5.13", desc: "5.12 in random chops", chop: chopRandom,
			steps: []step{send(contFirst(false)...), expectFail(1002)}},
		{id: "5.14", desc: "5.12 one byte per write", chop: chopBytes,
			steps: []step{send(contFirst(false)...), expectFail(1002)}},
		{id: "5.15", desc: "complete fragmented text, then a continuation with nothing to continue -> echo, 1002",
			steps: []step{send(twoFrags...), expectMsg(opText, cat(f1, f2)),
				send(frame{op: opCont, payload: b("fragment3")}, fr(opText, b("fragment4"))), expectFail(1002)}},
		{id: "5.16", desc: "twice: continuation, text (no FIN), continuation (FIN) -> 1002",
			steps: []step{send(seq516(false)...), expectFail(1002)}},
		{id: "5.17", desc: "twice: continuation (FIN), text (no FIN), continuation (FIN) -> 1002",
			steps: []step{send(seq516(true)...), expectFail(1002)}},
		{id: "5.18", desc: "text (no FIN), then a new text frame inside the message -> 1002",
			steps: []step{send(frag(opText, f1), fr(opText, f2)), expectFail(1002)}},
		{id: "5.19", desc: "text in five fragments with pauses and two pings between -> pongs, then echo",
			steps: five()},
		{id: "5.20", desc: "5.19 one byte per write", chop: chopBytes, steps: five()},
		{id: "5.21", desc: "binary in two fragments",
			steps: []step{send(frag(opBinary, binOf(100)), fr(opCont, binOf(300)[:50])), expectMsg(opBinary, cat(binOf(100), binOf(300)[:50]))}},
		{id: "5.22", desc: "binary in 100 fragments with a ping after each -> 100 pongs (any interleaving), echo",
			steps: []step{send(many...), expectUnordered(append(manyPongs, event{kind: evMessage, op: opBinary, payload: msg})...)}},
		{id: "5.23", desc: "text of 200 bytes in 200 one-byte fragments, multi-byte characters split",
			steps: []step{send(oneByte...), expectMsg(opText, textOf(200))}, variants: true},
		{id: "5.24", desc: "close frame without FIN -> 1002",
			steps: []step{send(frame{op: opClose, payload: closePayload(1000, "")}), expectFail(1002)}},
		{id: "5.25", desc: "binary (no FIN), then a new binary frame inside the message -> 1002",
			steps: []step{send(frag(opBinary, f1), fr(opBinary, f2)), expectFail(1002)}},
		{id: "5.26", desc: "text (no FIN), then binary continuation-less frame -> 1002",
			steps: []step{send(frag(opText, f1), fr(opBinary, f2)), expectFail(1002)}},
		{id: "5.27", desc: "text in fragments of 0, 9, 0, 9, 0 bytes",
			steps: []step{send(frag(opText, nil), frame{op: opCont, payload: f1}, frame{op: opCont}, frame{op: opCont, payload: f2}, fr(opCont, nil)),
				expectMsg(opText, cat(f1, f2))}},
	}
}
