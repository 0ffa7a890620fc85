package wsevents

import (
	"os"
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
	}
	os.Exit(code)
}
