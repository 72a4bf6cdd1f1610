package realtime

import (
	"runtime"
	"sync"
)

// writers are the process's shared stream writers, one per core: a pump that events were
// queued for is handed to one of them, which writes the batch without waiting (outConn) and
// moves on, so a message to 5,000 subscribers starts no goroutine. Work that may wait
// (reading the log for a replay, ending a stream) runs on a goroutine of its own.
var writers struct {
	once  sync.Once
	ready chan *pump
}

// writersQueue bounds the pumps waiting for a writer; beyond it, a kick starts a goroutine of
// its own for the pump, so a publish never blocks.
const writersQueue = 16 << 10

// runPooled hands p to a shared writer.
func runPooled(p *pump) {
	writers.once.Do(func() {
		writers.ready = make(chan *pump, writersQueue)
		for range runtime.GOMAXPROCS(0) {
			go func() {
				var scratch []Message
				for p := range writers.ready {
					scratch = p.run(false, scratch)
				}
			}()
		}
	})
	select {
	case writers.ready <- p:
	default:
		go p.run(true, nil)
	}
}
