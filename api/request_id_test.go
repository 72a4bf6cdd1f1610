package api_test

import (
	"io"
	"net/http"
	"strings"
	"switchboard/db"
	"testing"
)

// Every response carries an X-Request-ID, a new one each time unless the client sent its own,
// and a JSON error's request_id is the one in the header.
func TestEveryResponseCarriesARequestID(t *testing.T) {
	e := newEnv(t, db.SQLite)
	alice := e.token("alice", "Alice")
	seen := map[string]bool{}
	for _, r := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"GET", "/healthz", "", "", http.StatusOK},
		{"GET", "/api/rooms", alice, "", http.StatusOK},
		{"GET", "/api/rooms", "", "", http.StatusUnauthorized},
		{"GET", "/api/no-such-route", alice, "", http.StatusNotFound},
		{"POST", "/api/rooms/general/messages", alice, `{"content":`, http.StatusBadRequest},
		{"POST", "/api/rooms/general/messages", alice, `{"content":""}`, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(r.method, e.base+r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		if r.token != "" {
			req.Header.Set("Authorization", "Bearer "+r.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		id := res.Header.Get("X-Request-ID")
		if res.StatusCode != r.status || id == "" || seen[id] {
			t.Fatalf("%s %s: %d, X-Request-ID %q (seen before: %v)", r.method, r.path, res.StatusCode, id, seen[id])
		}
		seen[id] = true
		if r.status >= 400 {
			var eb struct {
				Error struct {
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			decode(t, body, &eb)
			if eb.Error.RequestID != id {
				t.Fatalf("%s %s: body's request_id %q, header's %q", r.method, r.path, eb.Error.RequestID, id)
			}
		}
	}
	req, _ := http.NewRequest("GET", e.base+"/api/rooms", nil)
	req.Header.Set("X-Request-ID", "trace-from-the-gateway")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if got := res.Header.Get("X-Request-ID"); got != "trace-from-the-gateway" || !strings.Contains(string(body), `"request_id":"trace-from-the-gateway"`) {
		t.Fatalf("the client's X-Request-ID came back as %q: %s", got, body)
	}
	for _, odd := range []string{strings.Repeat("x", 129), "two words"} { // replaced by one of ours
		req, _ := http.NewRequest("GET", e.base+"/api/rooms", nil)
		req.Header.Set("X-Request-ID", odd)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("X-Request-ID"); got == odd || got == "" {
			t.Fatalf("X-Request-ID %.20q… came back as %.20q", odd, got)
		}
	}
}
