//go:build race

package wsevents

// raceEnabled: the race detector changes allocation counts (sync.Pool
// drops a share of what it is given), so allocation budgets are checked
// without it.
const raceEnabled = true
