//go:build linux

package realtime

import (
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// socketFD is a parked stream's TCP socket held by its descriptor alone. The net.Conn the HTTP
// server accepted it as is closed once the descriptor is duplicated, which frees its netFD, its
// two addresses and its entry in the runtime's poller, outside the heap (measured: ~1.1 KiB of
// RSS a stream in all). Writes that must not wait are made on the descriptor (SyscallConn, as on a net.Conn);
// one that must wait, and a read, go through a net.Conn made for it (net.FileConn) on first
// need and kept until the socket closes: only a slow client's stream pays for one again.
type socketFD struct {
	mu sync.Mutex
	fd int           // -1 once closed
	w  *socketWaiter // made by the first wait or deadline
}

// socketWaiter is what a socketFD keeps only once something had to wait on it.
type socketWaiter struct {
	nc                          net.Conn // nil until a read or write needs it
	readDeadline, writeDeadline time.Time
}

// detachSocket returns a socketFD for nc's socket and closes nc, where nc is a TCP connection
// (not TLS); otherwise nc itself.
func detachSocket(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	fd := -1
	if cerr := raw.Control(func(s uintptr) { fd, err = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); cerr != nil || err != nil {
		return nc
	}
	// The duplicate shares the socket and its non-blocking mode; closing the original only
	// takes it out of the runtime's poller.
	_ = tc.Close()
	return &socketFD{fd: fd}
}

// Control runs f on the descriptor, or fails once the socket is closed (so that a caller late
// to remove a watch touches no socket that reuses the number).
func (s *socketFD) Control(f func(fd uintptr)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return net.ErrClosed
	}
	f(uintptr(s.fd))
	return nil
}

// SyscallConn returns the descriptor as a syscall.RawConn, as net.TCPConn does.
func (s *socketFD) SyscallConn() (syscall.RawConn, error) { return rawSocket{s}, nil }

// waiting returns the net.Conn waits go through, made on first need.
func (s *socketFD) waiting() (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil, net.ErrClosed
	}
	if s.w == nil {
		s.w = &socketWaiter{}
	}
	if s.w.nc != nil {
		return s.w.nc, nil
	}
	fd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "socket")
	nc, err := net.FileConn(f) // its own duplicate, in the runtime's poller
	_ = f.Close()
	if err != nil {
		return nil, err
	}
	_ = nc.SetReadDeadline(s.w.readDeadline)
	_ = nc.SetWriteDeadline(s.w.writeDeadline)
	s.w.nc = nc
	return nc, nil
}

// Write writes b, waiting for the socket within the write deadline.
func (s *socketFD) Write(b []byte) (int, error) {
	nc, err := s.waiting()
	if err != nil {
		return 0, err
	}
	return nc.Write(b)
}

// Read reads into b, waiting within the read deadline.
func (s *socketFD) Read(b []byte) (int, error) {
	nc, err := s.waiting()
	if err != nil {
		return 0, err
	}
	return nc.Read(b)
}

// SetDeadline sets both deadlines.
func (s *socketFD) SetDeadline(t time.Time) error { return s.setDeadlines(true, true, t) }

// SetWriteDeadline sets the deadline of waiting writes, also of one waiting now.
func (s *socketFD) SetWriteDeadline(t time.Time) error { return s.setDeadlines(false, true, t) }

// SetReadDeadline sets the deadline of reads, also of one waiting now.
func (s *socketFD) SetReadDeadline(t time.Time) error { return s.setDeadlines(true, false, t) }

// setDeadlines keeps t as the read and/or write deadline, for the connection waits go through
// now or once it is made.
func (s *socketFD) setDeadlines(read, write bool, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return net.ErrClosed
	}
	if s.w == nil {
		s.w = &socketWaiter{}
	}
	if read {
		s.w.readDeadline = t
	}
	if write {
		s.w.writeDeadline = t
	}
	if s.w.nc == nil {
		return nil
	}
	if read && write {
		return s.w.nc.SetDeadline(t)
	}
	if read {
		return s.w.nc.SetReadDeadline(t)
	}
	return s.w.nc.SetWriteDeadline(t)
}

// SetLinger sets SO_LINGER, as net.TCPConn's SetLinger (0: closing resets the connection).
func (s *socketFD) SetLinger(sec int) error {
	var err error
	if cerr := s.Control(func(fd uintptr) {
		err = unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: int32(sec)})
	}); cerr != nil {
		return cerr
	}
	return err
}

// Close closes the socket, and the connection waits went through if one was made: a wait in
// progress fails.
func (s *socketFD) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return net.ErrClosed
	}
	if s.w != nil && s.w.nc != nil {
		_ = s.w.nc.Close()
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}

// LocalAddr returns the socket's own address.
func (s *socketFD) LocalAddr() net.Addr { return s.addr(unix.Getsockname) }

// RemoteAddr returns the peer's address.
func (s *socketFD) RemoteAddr() net.Addr { return s.addr(unix.Getpeername) }

// addr returns the socket's address (get = unix.Getsockname) or its peer's (unix.Getpeername).
func (s *socketFD) addr(get func(int) (unix.Sockaddr, error)) net.Addr {
	var sa unix.Sockaddr
	_ = s.Control(func(fd uintptr) { sa, _ = get(int(fd)) })
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]), Port: sa.Port}
	}
	return &net.TCPAddr{}
}

// rawSocket is a socketFD as a syscall.RawConn (whose Read and Write take functions, where
// net.Conn's take bytes).
type rawSocket struct{ s *socketFD }

func (r rawSocket) Control(f func(fd uintptr)) error { return r.s.Control(f) }
func (r rawSocket) Read(f func(fd uintptr) bool) error {
	return r.s.Control(func(fd uintptr) { f(fd) })
}
func (r rawSocket) Write(f func(fd uintptr) bool) error {
	return r.s.Control(func(fd uintptr) { f(fd) })
}
