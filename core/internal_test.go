package wsevents

import (
	"os"
	"strconv"
	"testing"
)

// goroutine leak checks: core cannot import goleak (its go.mod stays
// minimal), so TestMain compares goroutine counts with a bounded wait.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := waitGoroutines(); err != nil {
			os.Stderr.WriteString("leak check: " + err.Error() + "\n")
			code = 1
		}
		// A parked connection has no goroutine to leak: its park slot
		// is what would stay behind.
		if n := parkedConns(); n != 0 {
			os.Stderr.WriteString("leak check: " + strconv.Itoa(n) + " connections still hold a park slot\n")
			code = 1
		}
	}
	os.Exit(code)
}
