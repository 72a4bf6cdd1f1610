package api_test

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/db"
)

// One user's flood of reads — 400 GET /api/rooms, 16 at a time — is limited like writes are
// (429 with Retry-After past its burst), while another user's posts go through.
func TestReadsAreRateLimitedPerUser(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) {
		a.Limits.Reads = api.ActionLimit{User: api.Limit{Rate: 1, Burst: 40}, Conn: api.Limit{Rate: 1, Burst: 40}}
		a.Limits.MaxRequestsPerUser = 8
	}))
	mallory, alice := e.token("mallory", "Mallory"), e.token("alice", "Alice")
	for i := range 30 {
		e.createRoom(alice, map[string]any{"name": "Room " + string(rune('a'+i%26)) + string(rune('a'+i/26))})
	}
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		wg       sync.WaitGroup
		work     = make(chan struct{})
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				res := rawRequest(t, e, "GET", "/api/rooms", mallory, "")
				res.Body.Close()
				mu.Lock()
				statuses[res.StatusCode]++
				if res.StatusCode == http.StatusTooManyRequests && res.Header.Get("Retry-After") == "" {
					t.Error("a 429 without Retry-After")
				}
				mu.Unlock()
			}
		}()
	}
	floodStart := time.Now()
	go func() {
		for range 400 {
			work <- struct{}{}
		}
		close(work)
	}()
	var latencies []time.Duration
	for range 20 {
		start := time.Now()
		e.post(alice, "general", "during the flood")
		latencies = append(latencies, time.Since(start))
	}
	wg.Wait()
	took := time.Since(floodStart)
	slices.Sort(latencies)
	t.Logf("flood: %v in %s; alice's posts meanwhile: median %s, worst %s", statuses, took, latencies[len(latencies)/2], latencies[len(latencies)-1])
	// The burst, plus one read per second the flood lasted (a busy host makes it last longer).
	if allowed := 40 + int(took.Seconds()) + 1; statuses[http.StatusOK] > allowed || statuses[http.StatusOK]+statuses[http.StatusTooManyRequests] != 400 {
		t.Fatalf("400 reads past a burst of 40 at 1/s, in %s: %v (at most %d allowed)", took, statuses, allowed)
	}
	e.mustDo(http.StatusOK, "GET", "/api/rooms", alice, nil) // her reads are her own
}
