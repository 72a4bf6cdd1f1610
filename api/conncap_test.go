package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"switchboard/api"
	"switchboard/db"
)

// Without --trust-proxy one address may hold only so many TCP connections, idle ones too: a
// request on the next is answered 429 too_many_connections with Retry-After, and the
// connection closed. Once one closes, another gets in.
func TestConnectionsPerAddressAreCapped(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.Limits.MaxConnsPerIP = 3 }))
	var idle []net.Conn
	for range 3 {
		nc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		idle = append(idle, nc)
	}
	c := e.rawGet("/healthz", "")
	res, body := c.answer(t)
	assertTooManyConns(t, res, body)
	if !res.Close {
		t.Fatal("the answer over the cap does not close its connection")
	}
	c.closed(t)

	idle[0].Close()
	waitUntil(t, "a closed connection making room", func() bool {
		c := e.rawGet("/healthz", "")
		res, _ := c.answer(t)
		c.Close()
		return res.StatusCode == http.StatusOK
	})
}

// Behind --trust-proxy the cap is per forwarded address and counts requests under way and open
// streams; the proxy's own connections, all from one address, are not capped.
func TestConnectionsPerForwardedAddressAreCapped(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.TrustProxy, a.Limits.MaxConnsPerIP = true, 2 }))
	alice := e.token("alice", "Alice")
	const client, neighbour = "203.0.113.7", "203.0.113.8"
	first := e.dialSSE(alice, "", "X-Forwarded-For", client)
	e.dialSSE(alice, "", "X-Forwarded-For", client)

	res, body := e.rawGet("/events", alice, "X-Forwarded-For: "+client).answer(t)
	assertTooManyConns(t, res, body)
	if res, body := e.rawGet("/healthz", "", "X-Forwarded-For: "+neighbour).answer(t); res.StatusCode != http.StatusOK {
		t.Fatalf("another address behind the proxy: %d %s", res.StatusCode, body)
	}

	first.cancel()
	waitUntil(t, "a closed stream making room", func() bool {
		res, _ := e.rawGet("/healthz", "", "X-Forwarded-For: "+client).answer(t)
		return res.StatusCode == http.StatusOK
	})
}

func assertTooManyConns(t *testing.T, res *http.Response, body []byte) {
	t.Helper()
	var eb errorBody
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" ||
		json.Unmarshal(body, &eb) != nil || eb.Error.Code != "too_many_connections" || eb.Error.Message == "" {
		t.Fatalf("over the cap: %d, Retry-After %q: %s; want 429 too_many_connections", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
}

// rawGet sends a GET with the token, if any, and header lines on a connection of its own.
func (e *env) rawGet(path, token string, headers ...string) *rawConn {
	e.t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	head := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: switchboard\r\n", path)
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	for _, h := range headers {
		head += h + "\r\n"
	}
	if _, err := io.WriteString(nc, head+"\r\n"); err != nil {
		e.t.Fatal(err)
	}
	return &rawConn{Conn: nc, r: bufio.NewReader(nc)}
}
