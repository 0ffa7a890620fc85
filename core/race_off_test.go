//go:build !race

package wsevents

const raceEnabled = false
