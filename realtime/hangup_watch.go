package realtime

import "io"

// hangupWatch is a parked stream's entry in the hang-up watcher (hangup_watch_linux.go). Its
// zero value, a stream watched by a reading goroutine, has nothing to stop. It is a number, not
// a closure: every idle stream holds one.
type hangupWatch struct {
	id uint64
}

// watchHangupByReading closes c once reading r fails: a goroutine, parked in a one-byte read,
// per connection. It is the way where no readiness watcher is (other platforms, connections
// that are no socket); closing the connection ends it.
func watchHangupByReading(r io.Reader, c *Conn) {
	go func() {
		var b [1]byte
		for {
			if _, err := r.Read(b[:]); err != nil {
				c.Close(ReasonClientGone)
				return
			}
		}
	}()
}
