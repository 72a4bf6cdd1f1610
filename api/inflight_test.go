package api

import (
	"context"
	"testing"
)

// A user holds at most max places: the next request waits for one to free, and gives up when
// its context ends; other users are not affected, and an idle user leaves nothing behind.
func TestInflightBoundsEachUser(t *testing.T) {
	f := &inflight{max: 2}
	ctx := context.Background()
	r1, ok1 := f.acquire(ctx, "mallory")
	_, ok2 := f.acquire(ctx, "mallory")
	if !ok1 || !ok2 {
		t.Fatal("the first two places were refused")
	}
	if _, ok := f.acquire(ctx, "alice"); !ok {
		t.Fatal("another user was refused")
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, ok := f.acquire(done, "mallory"); ok {
		t.Fatal("a third place was given")
	}
	got := make(chan bool)
	go func() { _, ok := f.acquire(ctx, "mallory"); got <- ok }()
	r1()
	if !<-got {
		t.Fatal("a freed place was not given to the request waiting for it")
	}
	f.mu.Lock()
	users := len(f.users)
	f.mu.Unlock()
	if users != 2 { // mallory (two held) and alice (one held)
		t.Fatalf("%d users tracked, want 2", users)
	}
}
