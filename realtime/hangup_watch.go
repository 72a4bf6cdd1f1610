package realtime

// watchHangupByReading runs gone once read fails: a goroutine, parked in a one-byte read,
// per connection. It is the way where no readiness watcher is (other platforms, connections
// that are no socket); closing the connection ends it.
func watchHangupByReading(read func([]byte) (int, error), gone func()) (stop func()) {
	go func() {
		var b [1]byte
		for {
			if _, err := read(b[:]); err != nil {
				gone()
				return
			}
		}
	}()
	return func() {}
}
