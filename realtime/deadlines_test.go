package realtime

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Streams end at their expiry, each at its own, through the hub's one timer: a moved expiry
// (a refreshed token) is kept, and a stream that disconnected leaves the queue at once
// instead of waiting there until its token would have expired.
func TestStreamsEndAtTheirOwnExpiry(t *testing.T) {
	h := newTestHub(t, newMemStore(), Config{})
	now := time.Now()
	open := func(user string, expires time.Time) *Conn {
		c, err := h.Connect(context.Background(), ConnectOptions{User: User{ID: user}, Transport: TransportSSE, Expires: expires})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Disconnect(c) })
		return c
	}
	var early []*Conn
	for i := range 20 { // out of order, close together
		early = append(early, open(fmt.Sprintf("early-%d", i), now.Add(time.Duration(300-10*i)*time.Millisecond)))
	}
	refreshed := open("refreshed", now.Add(200*time.Millisecond))
	if err := refreshed.Extend(now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	gone := open("gone", now.Add(time.Hour))
	later := open("later", now.Add(time.Hour))

	for _, c := range early {
		select {
		case <-c.Ready():
		case <-time.After(testWait):
			t.Fatalf("%s never expired", c.User().ID)
		}
		for c.Reason() == ReasonNone {
			<-c.Ready()
		}
		if c.Reason() != ReasonTokenExpired {
			t.Fatalf("%s closed for %v", c.User().ID, c.Reason())
		}
	}
	if refreshed.Reason() != ReasonNone {
		t.Fatalf("a refreshed stream ended at its first token's expiry: %v", refreshed.Reason())
	}
	h.Disconnect(gone)
	h.deadlines.mu.Lock()
	queued := len(h.deadlines.conns)
	for _, c := range h.deadlines.conns {
		if c == gone {
			t.Error("a disconnected stream stayed queued for its expiry")
		}
	}
	h.deadlines.mu.Unlock()
	if queued != 2 { // refreshed and later
		t.Fatalf("%d streams queued, want 2", queued)
	}
	if later.Reason() != ReasonNone {
		t.Fatalf("a stream ended before its expiry: %v", later.Reason())
	}
}
