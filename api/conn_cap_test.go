package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"switchboard/api"
	"switchboard/db"
)

// connectAll opens n SSE streams of one user at once, spread over the nodes, and returns how
// many were let in and how many were refused with 429. The streams stay open until the test
// ends.
func connectAll(t *testing.T, nodes []*env, token string, n int) (admitted, refused int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", nodes[i%len(nodes)].base+"/events?rooms=general", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			<-start
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch res.StatusCode {
			case http.StatusOK:
				admitted++ // the stream stays open: its body is closed when the test ends
				t.Cleanup(func() { res.Body.Close() })
			case http.StatusTooManyRequests:
				refused++
				res.Body.Close()
			default:
				t.Errorf("connect: %d", res.StatusCode)
				res.Body.Close()
			}
		}()
	}
	close(start)
	wg.Wait()
	return admitted, refused
}

// liveConns counts the user's registered connections over the nodes.
func liveConns(nodes []*env, user string) int {
	n := 0
	for _, e := range nodes {
		n += len(e.hub.UserConns(user))
	}
	return n
}

// The per-user connection cap holds exactly under concurrent connects: a connect holds its
// place from the check until its connection is registered.
func TestConnectionCapHoldsUnderConcurrentConnects(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) { a.Limits.MaxConnsPerUser = 20 }))
		admitted, refused := connectAll(t, []*env{e}, e.token("alice", "Alice"), 100)
		if live := liveConns([]*env{e}, "alice"); admitted != 20 || refused != 80 || live != 20 {
			t.Fatalf("100 concurrent connects against a cap of 20: %d admitted, %d refused, %d live", admitted, refused, live)
		}
	})
}

// The cap holds across a cluster: connects spread over two nodes leave exactly the cap live.
func TestConnectionCapHoldsAcrossTheCluster(t *testing.T) {
	nodes := startCluster(t, 2, withAPI(func(a *api.Config) { a.Limits.MaxConnsPerUser = 20 }))
	admitted, refused := connectAll(t, nodes, nodes[0].token("alice", "Alice"), 100)
	live := liveConns(nodes, "alice")
	t.Logf("2 nodes, 100 concurrent connects, cap 20: %d admitted, %d refused, %d live (%d on A, %d on B)",
		admitted, refused, live, len(nodes[0].hub.UserConns("alice")), len(nodes[1].hub.UserConns("alice")))
	if admitted != 20 || refused != 80 || live != 20 {
		t.Fatalf("%d admitted, %d refused, %d live; want 20, 80, 20", admitted, refused, live)
	}
	// A connection that ends gives its place back at once, on any node.
	e := nodes[1]
	stream := e.dialSSE(e.token("bob", "Bob"), "")
	stream.cancel()
	waitUntil(t, "bob's stream to end", func() bool { return len(e.hub.UserConns("bob")) == 0 })
	for range 20 {
		e.dialSSE(e.token("bob", "Bob"), "")
	}
}

// Rate limits hold across a cluster: each node allows its share of a user's budget, so a burst
// spread over two nodes is accepted about once, not once per node.
func TestRateLimitsHoldAcrossTheCluster(t *testing.T) {
	nodes := startCluster(t, 2, withAPI(func(a *api.Config) {
		a.Limits.Messages = api.ActionLimit{User: api.Limit{Rate: 0.01, Burst: 20}, Conn: api.Limit{Rate: 0.01, Burst: 20}}
	}))
	alice := nodes[0].token("alice", "Alice")
	accepted := 0
	for i := range 60 {
		status, _ := nodes[i%2].do("POST", "/api/rooms/general/messages", alice, map[string]string{"content": "burst"})
		if status == http.StatusCreated {
			accepted++
		} else if status != http.StatusTooManyRequests {
			t.Fatalf("post %d: %d", i, status)
		}
	}
	t.Logf("a burst of 60 over 2 nodes, limit burst 20: %d accepted", accepted)
	if accepted < 18 || accepted > 22 {
		t.Fatalf("%d of 60 accepted, want the burst of 20 (± one per node)", accepted)
	}
}
