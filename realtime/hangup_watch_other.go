//go:build !linux

package realtime

import "syscall"

// watchHangup runs gone once when the peer hangs up: off Linux, by a goroutine that reads.
func watchHangup(_ syscall.RawConn, read func([]byte) (int, error), gone func()) (stop func()) {
	return watchHangupByReading(read, gone)
}
