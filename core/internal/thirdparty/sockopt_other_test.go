//go:build !unix

package thirdparty

import "net"

func smallRecvBuffer(int) *net.Dialer { return &net.Dialer{Timeout: wait} }
