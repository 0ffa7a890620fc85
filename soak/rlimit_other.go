//go:build !unix

package soak

// RaiseOpenFiles does nothing where there is no RLIMIT_NOFILE.
func RaiseOpenFiles() (uint64, error) { return 0, nil }
