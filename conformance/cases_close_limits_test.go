package conformance

// Group 7 (close handling), 9 (limits, up to 16 MiB) and 10
// (auto-fragmentation: the server's answers are checked whatever their
// framing).

import (
	"compress/flate"
	"fmt"
	"strings"
)

func closeCases() []*tcase {
	hello := b("Hello World!")
	cs := []*tcase{
		{id: "7.1.1", desc: "text and close in one write -> echo, then close 1000",
			steps: []step{send(fr(opText, hello), fr(opClose, closePayload(1000, ""))), expectMsg(opText, hello), expectClose(1000)}},
		{id: "7.1.2", desc: "two close frames in one write: the second is ignored",
			steps: []step{closeThenCheck(fr(opClose, closePayload(1000, "")))}},
		{id: "7.1.3", desc: "close, then ping: no pong after the close",
			steps: []step{closeThenCheck(fr(opPing, hello))}},
		{id: "7.1.4", desc: "close, then text: no echo after the close",
			steps: []step{closeThenCheck(fr(opText, hello))}},
		{id: "7.1.5", desc: "text fragment, close, final fragment: close answered, no echo",
			steps: []step{send(frag(opText, b("fragment1"))), closeThenCheck(fr(opCont, b("fragment2")))}},
		{id: "7.1.6", desc: "256 KiB text, close and ping in one write: echo (may be cut by the close), close, no pong",
			steps: []step{send(fr(opText, textOf(256<<10)), fr(opClose, closePayload(1000, "")), fr(opPing, hello)),
				optionalMsg(opText, textOf(256<<10)), expectClose(1000)}},
		{id: "7.3.1", desc: "close without payload -> close without code (or 1000)", steps: []step{closeWith(nil, -1)}},
		{id: "7.3.2", desc: "close with a 1-byte payload -> 1002", steps: []step{send(fr(opClose, b("a"))), expectFail(1002)}},
		{id: "7.3.3", desc: "close 1000 without reason", steps: []step{closeWith(closePayload(1000, ""), 1000)}},
		{id: "7.3.4", desc: "close 1000 with a reason", steps: []step{closeWith(closePayload(1000, "Hello World!"), 1000)}},
		{id: "7.3.5", desc: "close 1000 with a 123-byte reason (payload 125)", steps: []step{closeWith(closePayload(1000, strings.Repeat("*", 123)), 1000)}},
		{id: "7.3.6", desc: "close 1000 with a 124-byte reason (payload 126, over the control frame limit) -> 1002",
			steps: []step{send(fr(opClose, closePayload(1000, strings.Repeat("*", 124)))), expectFail(1002)}},
		{id: "7.5.1", desc: "close 1000 with a reason that is not UTF-8 -> 1007",
			steps: []step{send(fr(opClose, cat(closePayload(1000, ""), b("κόσμε\xed\xa0\x80edited")))), expectFail(1007)}},
		{id: "7.5.2", desc: "close reason ending inside a UTF-8 character -> 1007",
			steps: []step{send(fr(opClose, cat(closePayload(1000, ""), b("κόσμε\xce")))), expectFail(1007)}},
		{id: "7.5.3", desc: "close 1000 with a 123-byte multi-byte UTF-8 reason", steps: []step{closeWith(closePayload(1000, string(textOf(123))), 1000)}},
	}
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999, 1012, 1013, 1014} {
		cs = append(cs, &tcase{id: fmt.Sprintf("7.7.%d", i+1), desc: fmt.Sprintf("close with valid code %d -> echoed", code),
			steps: []step{closeWith(closePayload(code, ""), code)}})
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 1015} {
		cs = append(cs, &tcase{id: fmt.Sprintf("7.9.%d", i+1), desc: fmt.Sprintf("close with invalid code %d -> 1002", code),
			steps: []step{send(fr(opClose, closePayload(code, ""))), expectFail(1002)}})
	}
	for i, code := range []int{5000, 65535} {
		cs = append(cs, &tcase{id: fmt.Sprintf("7.13.%d", i+1), desc: fmt.Sprintf("close with out-of-range code %d -> 1002", code),
			steps: []step{send(fr(opClose, closePayload(code, "Hello World!"))), expectFail(1002)}})
	}
	return cs
}

// optionalMsg accepts the message if it comes next (Autobahn 7.1.6: the
// close may overtake a large echo).
func optionalMsg(op byte, p []byte) step {
	return func(s *session, o *outcome) bool {
		e, ok := nextEvent(s, o, "echo or close")
		if !ok {
			return false
		}
		if e.kind == evMessage && e.op == op && string(e.payload) == string(p) {
			return true
		}
		if e.kind == evMessage {
			o.failed("unexpected %s", e)
			return false
		}
		s.tracef("(echo skipped: the close overtook it)")
		s.unread(e)
		return true
	}
}

func limitCases() []*tcase {
	var cs []*tcase
	sizes := []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20}
	for i, n := range sizes {
		cs = append(cs, &tcase{id: fmt.Sprintf("9.1.%d", i+1), desc: fmt.Sprintf("text message of %s, one frame", size(n)),
			heavy: n >= 4<<20, steps: []step{echo(opText, textOf(n))}})
	}
	for i, n := range sizes {
		cs = append(cs, &tcase{id: fmt.Sprintf("9.2.%d", i+1), desc: fmt.Sprintf("binary message of %s, one frame", size(n)),
			heavy: n >= 4<<20, steps: []step{echo(opBinary, binOf(n))}})
	}
	frags := []int{64, 256, 1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20}
	for i, f := range frags {
		cs = append(cs, &tcase{id: fmt.Sprintf("9.3.%d", i+1), desc: fmt.Sprintf("text message of 4 MiB in fragments of %s", size(f)),
			heavy: true, steps: []step{echoFrag(opText, textOf(4<<20), f)}})
	}
	for i, f := range frags {
		cs = append(cs, &tcase{id: fmt.Sprintf("9.4.%d", i+1), desc: fmt.Sprintf("binary message of 4 MiB in fragments of %s", size(f)),
			heavy: true, steps: []step{echoFrag(opBinary, binOf(4<<20), f)}})
	}
	chops := []int{64, 128, 256, 512, 1024, 2048}
	for i, c := range chops {
		cs = append(cs, &tcase{id: fmt.Sprintf("9.5.%d", i+1), desc: fmt.Sprintf("text message of 1 MiB written in %d-byte chops", c),
			chop: chopFixed, chopSize: c, steps: []step{echo(opText, textOf(1<<20))}})
	}
	for i, c := range chops {
		cs = append(cs, &tcase{id: fmt.Sprintf("9.6.%d", i+1), desc: fmt.Sprintf("binary message of 1 MiB written in %d-byte chops", c),
			chop: chopFixed, chopSize: c, steps: []step{echo(opBinary, binOf(1<<20))}})
	}
	for i, n := range []int{0, 16, 64, 256, 1024, 4096} {
		cs = append(cs,
			&tcase{id: fmt.Sprintf("9.7.%d", i+1), desc: fmt.Sprintf("%d text messages of %d bytes, one round trip each", roundTripCount, n),
				steps: []step{roundTrips(roundTripCount, opText, textOf(n))}},
			&tcase{id: fmt.Sprintf("9.8.%d", i+1), desc: fmt.Sprintf("%d binary messages of %d bytes, one round trip each", roundTripCount, n),
				steps: []step{roundTrips(roundTripCount, opBinary, binOf(n))}})
	}

	// 9.9: -max-message-size (16 MiB) is enforced with 1009, across
	// fragments and after inflate, and as soon as the size is known.
	over := maxMessage + 1
	// oversize sends the header and 1 KiB of a frame one byte over the
	// limit, waits for the close, then completes the frame.
	oversize := func(op byte, gen func(int) []byte) step {
		return func(s *session, o *outcome) bool {
			all, hl := frameBytes(fr(op, gen(over)))
			return seq(sendBytes(all[:hl+1024]), failFast([]int{1009}, all[hl+1024:], nil, false))(s, o)
		}
	}
	var fragsOver []frame
	for i := range 16 {
		f := frame{op: opCont, payload: binOf(1 << 20)}
		if i == 0 {
			f.op = opBinary
		}
		fragsOver = append(fragsOver, f)
	}
	huge := header(true, 0, opBinary, 1<<63-1, &[4]byte{1, 2, 3, 4}, 8)
	cs = append(cs,
		&tcase{id: "9.9.1", desc: "text frame of 16 MiB + 1 byte -> 1009 as soon as the header is read (before the payload is sent)", heavy: true,
			steps: []step{oversize(opText, textOf)}},
		&tcase{id: "9.9.2", desc: "binary frame of 16 MiB + 1 byte -> 1009 before the payload is sent", heavy: true,
			steps: []step{oversize(opBinary, binOf)}},
		&tcase{id: "9.9.3", desc: "binary message of 16 MiB in 1 MiB fragments plus a 1-byte fragment -> 1009", heavy: true,
			steps: []step{send(fragsOver...), send(fr(opCont, b("x"))), expectFail(1009)}},
		&tcase{id: "9.9.4", desc: "binary message of exactly 16 MiB (the limit), one frame -> echo", heavy: true,
			steps: []step{echo(opBinary, binOf(maxMessage))}},
		&tcase{id: "9.9.5", desc: "text message of exactly 16 MiB in 64 KiB fragments -> echo", heavy: true,
			steps: []step{echoFrag(opText, textOf(maxMessage), 64<<10)}},
		&tcase{id: "9.9.6", desc: "frame header announcing 2^63-1 bytes -> 1009 at once",
			steps: []step{sendBytes(huge), failFast([]int{1009}, nil, nil, true)}},
		&tcase{id: "9.9.7", desc: "permessage-deflate: 16 MiB + 1 zero bytes compressed to ~16 KiB -> 1009 after inflate (decompression bomb)",
			modes: onOnly, heavy: true, level: lvl(flate.BestCompression),
			steps: []step{sendMsg(opBinary, zerosOf(over)), expectFail(1009)}},
		&tcase{id: "9.9.8", desc: "permessage-deflate: zeros inflating to exactly 16 MiB -> echo", modes: onOnly, heavy: true,
			level: lvl(flate.BestCompression), steps: []step{echo(opBinary, zerosOf(maxMessage))}},
		&tcase{id: "9.9.9", desc: "permessage-deflate: compressed text fragments that inflate past 16 MiB -> 1009", modes: onOnly, heavy: true,
			level: lvl(flate.BestCompression), steps: []step{sendFrag(opText, zerosOf(over+(1<<20)), 1024), expectFail(1009)}},
		&tcase{id: "9.9.10", desc: "permessage-deflate: incompressible 16 MiB - 256 bytes (under the limit; a little larger on the wire) -> echo",
			modes: onOnly, heavy: true, steps: []step{echo(opBinary, randOf(maxMessage-256))}},
	)
	return cs
}

// roundTripCount is how many messages 9.7 and 9.8 send (Autobahn: 1000;
// fewer under the race detector, see race_test.go).
var roundTripCount = 1000

func size(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// roundTrips sends n messages one at a time, each after the previous echo.
func roundTrips(n int, op byte, p []byte) step {
	return func(s *session, o *outcome) bool {
		for range n {
			if !echo(op, p)(s, o) {
				return false
			}
		}
		return true
	}
}

func autoFragCases() []*tcase {
	var pings []frame
	var pongs []event
	for i := range 20 {
		p := b(fmt.Sprintf("ping %d", i))
		pings = append(pings, fr(opPing, p))
		pongs = append(pongs, event{kind: evPong, payload: p})
	}
	return []*tcase{
		{id: "10.1.1", desc: "text message of 64 KiB sent in 1300-byte fragments",
			steps: []step{echoFrag(opText, textOf(64<<10), 1300)}},
		{id: "10.1.2", desc: "4 MiB binary, then a ping: the pong may come before, inside or after the echo's frames", heavy: true,
			steps: []step{sendMsg(opBinary, binOf(4<<20)), send(fr(opPing, b("ping"))),
				expectUnordered(event{kind: evPong, payload: b("ping")}, event{kind: evMessage, op: opBinary, payload: binOf(4 << 20)})}},
		{id: "10.1.3", desc: "ten 256 KiB text messages pipelined, echoed in order",
			steps: []step{pipeline(10, opText, textOf(256<<10))}},
		{id: "10.1.4", desc: "1 MiB text, then 20 pings: pongs and echo in any interleaving",
			steps: []step{sendMsg(opText, textOf(1<<20)), send(pings...),
				expectUnordered(append(pongs, event{kind: evMessage, op: opText, payload: textOf(1 << 20)})...)}},
	}
}

// pipeline sends n messages back to back and then expects n echoes.
func pipeline(n int, op byte, p []byte) step {
	return func(s *session, o *outcome) bool {
		for range n {
			sendMsg(op, p)(s, o)
		}
		for range n {
			if !expectMsg(op, p)(s, o) {
				return false
			}
		}
		return true
	}
}
