package thirdparty

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a goroutine (a connection's reader or writer,
// a keepalive timer's callback, a client's) outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
