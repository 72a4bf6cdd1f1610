package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/db/dbtest"
)

// TestRepeatedBroadcastsAllArrive: presence updates repeat (leave, join, leave), and the bus
// sends what is queued in one transaction, where PostgreSQL delivers identical payloads once.
// Every broadcast must reach the other node, in order.
func TestRepeatedBroadcastsAllArrive(t *testing.T) {
	cfg := dbtest.Config(t, db.Postgres)
	ctx := context.Background()
	open := func(node string) *db.DB {
		c := cfg
		c.NodeID = node
		d, err := db.Open(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	a, b := open("a"), open("b")
	var mu sync.Mutex
	var heard []string
	all := make(chan struct{})
	const n = 600
	busB, err := b.StartBus(cfg.URL, db.BusHandlers{Message: func(_, _ string, data []byte) {
		mu.Lock()
		defer mu.Unlock()
		if heard = append(heard, string(data)); len(heard) == n {
			close(all)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer busB.Close()
	busA, err := a.StartBus(cfg.URL, db.BusHandlers{})
	if err != nil {
		t.Fatal(err)
	}
	defer busA.Close()
	leave, join := `{"user":"u1","present":false}`, `{"user":"u1","present":true}`
	for range n / 3 {
		busA.Broadcast("hub.room", []byte(leave))
		busA.Broadcast("hub.room", []byte(join))
		busA.Broadcast("hub.room", []byte(leave))
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("node b heard %d of %d broadcasts", len(heard), n)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, got := range heard {
		if want := []string{leave, join, leave}[i%3]; got != want {
			t.Fatalf("broadcast %d: %s, want %s", i, got, want)
		}
	}
}
