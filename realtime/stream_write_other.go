//go:build !unix

package realtime

import "errors"

// rawWrites is false off Unix (Windows): a socket there is written through its net.Conn, and
// a write waits, within the write timeout, as for TLS.
const rawWrites = false

// writeFD is never called off Unix.
func writeFD(uintptr, []byte) (int, error) { return 0, errors.New("no raw writes on this platform") }
