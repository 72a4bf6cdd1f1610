package realtime

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// A connection kicked while it replays a long backlog stops replaying at once.
func TestKickStopsAReplay(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{})
	for i := range 3000 {
		store.append("room:a", EventChatMessage, chat(i))
	}
	zero := uint64(0)
	c := connect(t, h, "u", Subscription{Topic: "room:a", From: &zero})
	if _, err := c.Drain(context.Background(), nil, 512); err != nil {
		t.Fatal(err)
	}
	h.Kick("u", "banned")
	msgs, err := c.Drain(context.Background(), nil, 512)
	if !errors.Is(err, ErrClosed) || len(seqs(t, msgs)) != 0 || msgs[len(msgs)-1].Type != EventKicked {
		t.Fatalf("after the kick: %v %v", types(msgs), err)
	}
}

// Leaving and re-joining a topic while a replay has read ahead of the hub delivers nothing twice.
func TestRejoinAfterAReplayDeliversNothingTwice(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{})
	for i := range 5 {
		store.append("room:a", EventChatMessage, chat(i))
	}
	zero := uint64(0)
	c := connect(t, h, "u", Subscription{Topic: "room:a", From: &zero})
	connect(t, h, "other", Subscription{Topic: "room:a"}) // keeps the topic live
	var late []*Frame                                     // committed, not yet published: their requests are between commit and Publish
	for i := 5; i < 8; i++ {
		late = append(late, store.append("room:a", EventChatMessage, chat(i)))
	}
	if err := h.Unsubscribe(c, "room:a", "left"); err != nil {
		t.Fatal(err)
	}
	if err := h.Subscribe(context.Background(), c, "room:a"); err != nil {
		t.Fatal(err)
	}
	msgs, _ := c.Drain(context.Background(), nil, 1000)
	for _, f := range late {
		h.Publish(f)
	}
	more, _ := c.Drain(context.Background(), nil, 1000)
	if got := seqs(t, append(msgs, more...)); fmt.Sprint(got) != "[0 1 2 3 4 5 6 7]" {
		t.Fatalf("delivered %v", got)
	}
}
