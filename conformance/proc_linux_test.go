package conformance

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the echo server exit if the test binary dies
// without running its cleanups (killed, or its output pipe closed).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
