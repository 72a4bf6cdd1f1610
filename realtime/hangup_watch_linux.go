//go:build linux

package realtime

import (
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// hangupWatcher notices that the clients of parked streams went away, for all of them at
// once: one epoll set, waited on by one goroutine, holds every parked stream's socket with
// EPOLLRDHUP|EPOLLHUP|EPOLLERR (and EPOLLONESHOT: a socket reports once). An idle stream so
// costs no goroutine and no stack, only its entry here and the kernel's. Bytes a client sends
// are not asked for (SSE clients send nothing after their request) and stay unread.
type hangupWatcher struct {
	epfd int

	mu      sync.Mutex
	watches map[uint64]func() // by the id kept in the epoll event's data
	next    uint64
}

var (
	watcherOnce sync.Once
	watcher     *hangupWatcher // nil where no epoll set could be made
)

// sharedHangupWatcher returns the process's watcher, started on first use, or nil.
func sharedHangupWatcher() *hangupWatcher {
	watcherOnce.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		watcher = &hangupWatcher{epfd: fd, watches: map[uint64]func(){}}
		go watcher.run()
	})
	return watcher
}

// watchHangup runs gone once when the peer of raw's socket hangs up (or the socket fails),
// without a goroutine of its own where epoll is at hand, else with a reader. stop ends the
// watch; call it before closing the connection (after is harmless).
func watchHangup(raw syscall.RawConn, read func([]byte) (int, error), gone func()) (stop func()) {
	if w := sharedHangupWatcher(); w != nil && raw != nil {
		if stop, ok := w.add(raw, gone); ok {
			return stop
		}
	}
	return watchHangupByReading(read, gone)
}

func (w *hangupWatcher) add(raw syscall.RawConn, gone func()) (stop func(), ok bool) {
	w.mu.Lock()
	w.next++
	id := w.next
	w.watches[id] = gone
	w.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLONESHOT,
		Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	var addErr error
	if err := raw.Control(func(fd uintptr) { addErr = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev) }); err != nil {
		addErr = err
	}
	if addErr != nil {
		w.forget(id)
		return nil, false
	}
	return func() {
		w.forget(id)
		// A closed socket has left the set by itself; Control then fails, and touches no
		// socket that reuses the descriptor's number.
		_ = raw.Control(func(fd uintptr) { _ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
	}, true
}

// forget removes id's watch and returns what it was to run, if it was still there.
func (w *hangupWatcher) forget(id uint64) func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	gone := w.watches[id]
	delete(w.watches, id)
	return gone
}

// run waits for hang-ups and reports each once. The wait blocks one OS thread in epoll_wait,
// not a P: the scheduler hands the P on while it waits.
func (w *hangupWatcher) run() {
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err != nil {
			if err != unix.EINTR { // not expected of a set that stays open; never spin on it
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		for _, ev := range events[:n] {
			if gone := w.forget(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32); gone != nil {
				gone()
			}
		}
	}
}
