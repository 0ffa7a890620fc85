// Package conformance holds the project's WebSocket protocol conformance
// suite: RFC 6455 and RFC 7692 cases, organised and numbered after the
// Autobahn|Testsuite groups, driven as raw frames against examples/echo
// with compression off and on.
//
// Everything lives in the tests; run it with
//
//	cd conformance && go test -count=1 -v .
//
// The suite builds examples/echo once, starts it twice (plain and with
// -compression) on an ephemeral loopback port, runs every case of the
// table as a subtest named after its Autobahn number ("6.4.1"), and
// prints a tally per group: OK, NON-STRICT (acceptable, but looser than
// the project's testing guide asks, with the RFC SHOULD it misses) and
// FAILED. Any FAILED fails the test.
//
// Environment:
//
//	CONFORMANCE_ECHO      use this echo binary instead of building one
//	CONFORMANCE_PARALLEL  cases run at once per mode (default 8)
//	CONFORMANCE_TRACE     log the wire transcript of OK cases too
//
// Run one case or group with -run, e.g. -run 'TestConformance/on/6/6.4.1$'.
package conformance
