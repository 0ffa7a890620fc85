package wsevents

import (
	"os"
	"runtime"
	"strconv"
	"testing"
	"unsafe"
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

// What an idle connection costs depends on the size class its Conn falls
// in: 888 bytes (the 896 class less Go's 8-byte malloc header) on 64-bit
// Linux. A field that pushes it past costs every connection 128 bytes.
func TestConnSizeClass(t *testing.T) {
	if runtime.GOOS != "linux" || unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the budget is for 64-bit Linux")
	}
	if n := unsafe.Sizeof(Conn{}); n > 768-8 {
		t.Fatalf("Conn is %d bytes: over the 768-byte class (less its 8-byte header); it now costs 896 per connection", n)
	}
}
