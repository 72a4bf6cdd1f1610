package realtime

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// A subscription refused for too many topics leaves no topic behind in the hub.
func TestRefusedSubscribeLeavesNoTopic(t *testing.T) {
	h := newTestHub(t, newMemStore(), Config{MaxSubscriptions: 2})
	c := connect(t, h, "u", Subscription{Topic: "room:a"}, Subscription{Topic: "room:b"})
	for i := range 50 {
		if err := h.Subscribe(context.Background(), c, RoomTopic(fmt.Sprint("x", i))); !errors.Is(err, ErrTooManyTopics) {
			t.Fatalf("subscribe %d: %v", i, err)
		}
	}
	if n := h.Stats().Topics; n != 2 {
		t.Fatalf("%d topics live in the hub, want 2", n)
	}
}
