// Package peers names the libraries of the benchmarks (benchserver's -lib
// values) by what each can be measured in, and the load generator's format
// for each. benchrun's cases and benchserver's allocation benchmarks take
// their libraries from here.
package peers

import "strings"

var (
	// Native: native-message echo (every library).
	Native = []string{"wsevents", "gws", "gorilla", "coder", "gobwas-naive", "melody", "neffos"}
	// NativeBroadcast: native broadcast and rooms (neffos's native mode
	// has neither).
	NativeBroadcast = []string{"wsevents", "gws", "gorilla", "coder", "gobwas-naive", "melody"}
	// EventEcho: event echo (the event libraries).
	EventEcho = []string{"wsevents", "neffos"}
	// EventBroadcast: event broadcast and rooms, neffos with either
	// broadcaster.
	EventBroadcast = []string{"wsevents", "neffos", "neffos-sync"}
)

// Format is the load generator's format (wire.FormatFor) of lib in a case
// of mode "native" or "events": native messages, or the library's own
// event format (neffos's for neffos and neffos-sync, wsevents' for wsevents
// and its variants).
func Format(lib, mode string) string {
	switch {
	case mode == "native":
		return "native"
	case strings.HasPrefix(lib, "neffos"):
		return "neffos"
	}
	return "wsevents"
}
