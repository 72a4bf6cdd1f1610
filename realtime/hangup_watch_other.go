//go:build !linux

package realtime

import (
	"io"
	"syscall"
)

// watchHangup closes c once its peer hangs up: off Linux, by a goroutine that reads r.
func watchHangup(_ syscall.RawConn, r io.Reader, c *Conn) hangupWatch {
	watchHangupByReading(r, c)
	return hangupWatch{}
}

// stop ends the watch; a reading goroutine ends with the connection instead.
func (hangupWatch) stop(syscall.RawConn) {}
