package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/db"
)

// While the server drains it keeps answering: /readyz with 503 "shutting down", a new stream
// with 503 shutting_down and Retry-After; every open stream gets the shutdown event, with a
// reconnect delay, before it ends. The listener closes only once the streams are gone.
func TestDrainKeepsAnswering(t *testing.T) {
	e := newEnv(t, db.SQLite, withSetup(func(s *api.Setup) { s.ShutdownWindow = 2 * time.Second }))
	alice := e.token("alice", "Alice")
	// Each stream ends at a random moment of the window: with several, the last is all but
	// certain to end long after the first requests below.
	streams := make([]*sseClient, 8)
	for i := range streams {
		streams[i] = e.dialSSE(alice, "rooms=general")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- e.shutdown() }()

	client := &http.Client{Timeout: wait, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s during the drain: %v", path, err)
		}
		defer res.Body.Close()
		if res.StatusCode == http.StatusOK && path == "/events" {
			t.Fatal("a new stream was let in during the drain")
		}
		body, _ := io.ReadAll(res.Body)
		return res, body
	}
	var ready struct {
		Checks map[string]string `json:"checks"`
	}
	waitUntil(t, "/readyz saying the server is shutting down", func() bool {
		res, body := get("/readyz")
		json.Unmarshal(body, &ready)
		return res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != ""
	})
	if ready.Checks["server"] != "shutting down" {
		t.Fatalf("/readyz during the drain: %v", ready.Checks)
	}
	res, body := get("/events")
	var eb errorBody
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
		json.Unmarshal(body, &eb) != nil || eb.Error.Code != "shutting_down" {
		t.Fatalf("a new stream during the drain: %d, Retry-After %q: %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}

	for _, s := range streams {
		rest := s.ended(t)
		if len(rest) == 0 || rest[len(rest)-1].Type != "shutdown" {
			t.Fatalf("a stream ended after %v, want shutdown last", rest)
		}
		var d struct {
			RetryMS int `json:"retry_ms"`
		}
		if decode(t, rest[len(rest)-1].Data, &d); d.RetryMS <= 0 {
			t.Fatalf("shutdown suggests no delay: %s", rest[len(rest)-1].Data)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := client.Get(e.url + "/readyz"); err == nil {
		t.Fatal("the listener still answers after shutdown")
	}
}
