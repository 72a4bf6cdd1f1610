package realtime

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// openDescriptors counts this process's open file descriptors.
func openDescriptors(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestSocketHeldByDescriptor: a parked stream's socket sheds its net.Conn and still is the same
// connection: the same peer, bytes delivered, a write to a client that stopped reading fails at
// its deadline, closing it after that resets the client, and no descriptor is left open (not
// the duplicate, not the one made for waiting).
func TestSocketHeldByDescriptor(t *testing.T) {
	before := openDescriptors(t)
	accepted, client := tcpPair(t)
	raw, err := accepted.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	server := detachSocket(accepted)
	if _, ok := server.(*socketFD); !ok {
		t.Fatalf("a TCP connection was kept as %T", server)
	}
	if err := raw.Control(func(uintptr) {}); err == nil {
		t.Fatal("the accepted net.Conn is still open")
	}
	if got, want := server.RemoteAddr().String(), client.LocalAddr().String(); got != want {
		t.Fatalf("RemoteAddr %s, the client is %s", got, want)
	}
	if got, want := server.LocalAddr().String(), client.RemoteAddr().String(); got != want {
		t.Fatalf("LocalAddr %s, the client dialled %s", got, want)
	}

	out := newOutConn(server, 300*time.Millisecond)
	if !out.nonBlocking() {
		t.Fatal("a socket held by its descriptor should be written without waiting")
	}
	if _, err := out.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}

	// The client stops reading: the kept bytes' flush waits, then fails at its deadline.
	if _, err := out.Write(make([]byte, 8<<20)); err != nil {
		t.Fatal(err)
	}
	if err := out.wait(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a flush to a client that does not read ended with %v, want the deadline", err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64<<10)
	for {
		_, err := client.Read(buf)
		if err == nil {
			continue // what the kernel had delivered before the reset
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("the client saw %v, want a reset", err)
		}
		break
	}
	client.Close()
	if after := openDescriptors(t); after != before {
		t.Fatalf("%d descriptors open before, %d after", before, after)
	}
	if err := server.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a second Close: %v", err)
	}
}
