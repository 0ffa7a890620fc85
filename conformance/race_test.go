//go:build race

package conformance

// The race detector slows compress/flate and the client's byte loops by
// 10-40x; the round-trip groups (9.7, 9.8) send fewer messages so that
// `make test` (which runs with -race) stays about a minute. Every case
// still runs.
func init() { roundTripCount = 250 }
