//go:build linux && !386

package wsevents

import (
	"syscall"
	"unsafe"
)

// tcpINQ is TCP_INQ: with it on, every recvmsg carries a control message
// (TCP_CM_INQ, the same number) with the bytes still queued after it, or 1
// once the peer's FIN is in.
const tcpINQ = 36

// enableINQ turns TCP_INQ on for a TCP socket; false where it is not one,
// or the kernel (before 4.18) has no TCP_INQ.
func enableINQ(fd int) bool {
	return syscall.SetsockoptInt(fd, syscall.SOL_TCP, tcpINQ, 1) == nil
}

// sockRead reads into p without blocking. With inq (TCP_INQ enabled) it
// also returns whether anything is still queued after the read (bytes, or
// the FIN): false means the socket was drained; without inq it always
// reports more, so the caller reads until EAGAIN.
func sockRead(fd int, p []byte, inq bool) (n int, more bool, err error) {
	if !inq {
		n, err = syscall.Read(fd, p)
		return n, true, err
	}
	iov := syscall.Iovec{Base: &p[0]}
	iov.SetLen(len(p))
	var oob [4]uint64 // room for one cmsg of an int32, aligned for its header
	msg := syscall.Msghdr{Iov: &iov, Iovlen: 1, Control: (*byte)(unsafe.Pointer(&oob[0]))}
	msg.SetControllen(syscall.CmsgSpace(4))
	r, _, errno := syscall.Syscall(syscall.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), syscall.MSG_DONTWAIT)
	if errno != 0 {
		return 0, true, errno
	}
	more = true
	if int(msg.Controllen) >= syscall.CmsgLen(4) {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Level == syscall.SOL_TCP && h.Type == tcpINQ {
			more = *(*int32)(unsafe.Add(unsafe.Pointer(&oob[0]), syscall.CmsgLen(0))) != 0
		}
	}
	return int(r), more, nil
}
