//go:build linux

package realtime

import (
	"io"
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
	watches map[uint64]*Conn // by the id kept in the epoll event's data
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
		watcher = &hangupWatcher{epfd: fd, watches: map[uint64]*Conn{}}
		go watcher.run()
	})
	return watcher
}

// watchHangup closes c (ReasonClientGone) once the peer of raw's socket hangs up (or the
// socket fails), without a goroutine of its own where epoll is at hand, else with a reader of
// r. The watch's stop, given raw again, ends it; call it before closing the connection (after
// is harmless).
func watchHangup(raw syscall.RawConn, r io.Reader, c *Conn) hangupWatch {
	if w := sharedHangupWatcher(); w != nil && raw != nil {
		if id, ok := w.add(raw, c); ok {
			return hangupWatch{id: id}
		}
	}
	watchHangupByReading(r, c)
	return hangupWatch{}
}

// stop takes the stream on raw's socket out of the watcher.
func (h hangupWatch) stop(raw syscall.RawConn) {
	if h.id == 0 {
		return
	}
	watcher.forget(h.id)
	// A closed socket has left the set by itself; Control then fails, and touches no socket
	// that reuses the descriptor's number.
	_ = raw.Control(func(fd uintptr) { _ = unix.EpollCtl(watcher.epfd, unix.EPOLL_CTL_DEL, int(fd), nil) })
}

func (w *hangupWatcher) add(raw syscall.RawConn, c *Conn) (id uint64, ok bool) {
	w.mu.Lock()
	w.next++
	id = w.next
	w.watches[id] = c
	w.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR | unix.EPOLLONESHOT,
		Fd: int32(uint32(id)), Pad: int32(uint32(id >> 32))}
	var addErr error
	if err := raw.Control(func(fd uintptr) { addErr = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev) }); err != nil {
		addErr = err
	}
	if addErr != nil {
		w.forget(id)
		return 0, false
	}
	return id, true
}

// forget removes id's watch and returns its connection, if it was still there.
func (w *hangupWatcher) forget(id uint64) *Conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.watches[id]
	delete(w.watches, id)
	return c
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
			if c := w.forget(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32); c != nil {
				c.Close(ReasonClientGone)
			}
		}
	}
}
