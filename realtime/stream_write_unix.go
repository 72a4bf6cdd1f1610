//go:build unix

package realtime

import "syscall"

// rawWrites says a socket's descriptor takes write(2) that never waits: outConn writes that
// way on Unix.
const rawWrites = true

// writeFD makes one write(2) on the descriptor fd.
func writeFD(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }
