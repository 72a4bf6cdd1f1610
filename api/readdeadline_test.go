package api_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/db"
)

// Clients that send a body a byte at a time are answered 408 request_timeout once the read
// timeout has passed, and their connections are closed: they hold nothing for longer.
func TestSlowBodiesTimeOut(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.ReadTimeout = 500 * time.Millisecond }))
	alice := e.token("alice", "Alice")
	e.mustDo(http.StatusCreated, "POST", "/api/rooms", alice, map[string]string{"key": "x", "name": "X"})
	var socks []*rawConn
	for range 3 {
		socks = append(socks, e.slowPost("/api/rooms/x/messages", alice, 60000, `{"content":"`))
	}
	for _, s := range socks {
		res, body := s.answer(t)
		var eb errorBody
		if res.StatusCode != http.StatusRequestTimeout || json.Unmarshal(body, &eb) != nil || eb.Error.Code != "request_timeout" {
			t.Fatalf("a stalled body: %d %s, want 408 request_timeout", res.StatusCode, body)
		}
		s.closed(t)
	}
}

// A request without a valid token is answered 401 before its body arrives, and its connection
// is closed rather than read to the body's end.
func TestUnauthenticatedBodyIsNotWaitedFor(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.ReadTimeout = time.Hour }))
	s := e.slowPost("/api/rooms/x/messages", "", 60000, `{"content":"`)
	res, body := s.answer(t)
	if res.StatusCode != http.StatusUnauthorized || !res.Close { // Close: the answer said Connection: close
		t.Fatalf("an unauthenticated slow body: %d, close %t: %s; want 401 and Connection: close", res.StatusCode, res.Close, body)
	}
	s.closed(t)

	// A client that sends its whole body at once reads the same answer, not a reset connection.
	if status, body := e.do("POST", "/api/rooms/x/messages", "", strings.Repeat(" ", 60000)); status != http.StatusUnauthorized {
		t.Fatalf("an unauthenticated body sent at once: %d %s", status, body)
	}
}

// rawConn is a client connection spoken to byte by byte.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

// slowPost opens a connection and sends a POST whose head announces a body of size bytes, and
// only the first bytes of that body.
func (e *env) slowPost(path, token string, size int, first string) *rawConn {
	e.t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: switchboard\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, size)
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(nc, head+"\r\n"+first); err != nil {
		e.t.Fatal(err)
	}
	return &rawConn{Conn: nc, r: bufio.NewReader(nc)}
}

// answer reads the response to the request sent; waiting longer than wait fails the test.
func (c *rawConn) answer(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return res, body
}

// closed asserts that the server closes the connection.
func (c *rawConn) closed(t *testing.T) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	if n, err := c.r.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("the connection is still open after the answer (read %d bytes, %v)", n, err)
	}
}
