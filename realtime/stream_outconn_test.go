package realtime

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection, the server's send buffer small so
// that a client that does not read soon leaves a writer with bytes the socket will not take.
// (The client's receive buffer keeps its default: shrunk after the handshake, it would leave
// the window scale too large and the flow to TCP's backing-off persist timer.)
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	_ = server.(*net.TCPConn).SetWriteBuffer(4096)
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// eachServerSocket runs test on a connection as the HTTP server accepts it, and on the same
// socket held by its descriptor alone, as a parked stream holds it (Linux; elsewhere the same).
func eachServerSocket(t *testing.T, test func(t *testing.T, server, client net.Conn)) {
	t.Run("accepted", func(t *testing.T) {
		server, client := tcpPair(t)
		test(t, server, client)
	})
	t.Run("descriptor", func(t *testing.T) {
		server, client := tcpPair(t)
		server = detachSocket(server)
		t.Cleanup(func() { server.Close() })
		test(t, server, client)
	})
}

// TestOutConnNeverWaitsAndKeepsOrder: writes to a client that is not reading return at once;
// what the socket did not take goes out, in order, once the client reads, and the pump is told.
func TestOutConnNeverWaitsAndKeepsOrder(t *testing.T) {
	eachServerSocket(t, testOutConnNeverWaitsAndKeepsOrder)
}

func testOutConnNeverWaitsAndKeepsOrder(t *testing.T, server, client net.Conn) {
	out := newOutConn(server, 10*time.Second)
	if !out.nonBlocking() {
		t.Fatal("a TCP connection should be written without waiting")
	}
	drained := make(chan struct{}, 1)
	onDrained := func() {
		select {
		case drained <- struct{}{}:
		default:
		}
	}
	out.onDrained(&onDrained)

	var want bytes.Buffer
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	returned := make(chan error, 1)
	go func() {
		for i := range 64 { // 1 MiB, far more than the socket buffers hold
			chunk[0] = byte('A' + i%26)
			want.Write(chunk)
			if _, err := out.Write(chunk); err != nil {
				returned <- err
				return
			}
		}
		returned <- nil
	}()
	select {
	case err := <-returned:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Write waited for a client that does not read")
	}
	if !out.busy() {
		t.Fatal("busy is false with 1 MiB the client has not read")
	}

	got := make([]byte, want.Len())
	if _, err := io.ReadFull(client, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("the bytes arrived out of order or altered")
	}
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("the pump was not told that the kept bytes went out")
	}
	if out.busy() {
		t.Fatal("still busy after everything went out")
	}
	if err := out.wait(); err != nil {
		t.Fatal(err)
	}
	// And a write after that goes straight out again.
	if _, err := out.Write([]byte("tail")); err != nil {
		t.Fatal(err)
	}
	tail := make([]byte, 4)
	if _, err := io.ReadFull(client, tail); err != nil || string(tail) != "tail" {
		t.Fatalf("after the flush: %q, %v", tail, err)
	}
}

// TestOutConnAbortEndsAStalledFlush: abort breaks off the flush to a client that never reads;
// wait returns the failure, and so does every later write.
func TestOutConnAbortEndsAStalledFlush(t *testing.T) {
	eachServerSocket(t, func(t *testing.T, server, _ net.Conn) {
		testOutConnAbortEndsAStalledFlush(t, server)
	})
}

func testOutConnAbortEndsAStalledFlush(t *testing.T, server net.Conn) {
	out := newOutConn(server, time.Hour)
	drained := make(chan struct{}, 1)
	onDrained := func() { drained <- struct{}{} }
	out.onDrained(&onDrained)
	big := make([]byte, 1<<20)
	if _, err := out.Write(big); err != nil {
		t.Fatal(err)
	}
	if !out.busy() {
		t.Fatal("busy is false with 1 MiB kept")
	}
	out.abort()
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled flush did not end on abort")
	}
	if err := out.wait(); err == nil {
		t.Fatal("wait reported no failure after the abort")
	}
	if _, err := out.Write([]byte("x")); err == nil {
		t.Fatal("a write after the abort succeeded")
	}
}

// The frame header of every length class (RFC 6455 §5.2): 7-bit, 16-bit and 64-bit lengths.
func TestAppendWSHeader(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{5, []byte{0x81, 5}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xFF, 0xFF}},
		{65536, []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	} {
		if got := appendWSHeader(nil, tc.n, false); !bytes.Equal(got, tc.want) {
			t.Errorf("header of %d bytes: % x, want % x", tc.n, got, tc.want)
		}
	}
}
