//go:build darwin || freebsd || netbsd || openbsd || dragonfly || (linux && 386)

package wsevents

import "syscall"

func enableINQ(int) bool { return false }

// sockRead reads into p; it never knows whether more is queued.
func sockRead(fd int, p []byte, _ bool) (int, bool, error) {
	n, err := syscall.Read(fd, p)
	return n, true, err
}
