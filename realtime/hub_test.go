package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

const testWait = 10 * time.Second

func newTestHub(t *testing.T, store *memStore, cfg Config) *Hub {
	t.Helper()
	cfg.Store = store
	if cfg.Epoch == 0 {
		cfg.Epoch = 7
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func connect(t *testing.T, h *Hub, user string, subs ...Subscription) *Conn {
	t.Helper()
	return connectAs(t, h, User{ID: user}, subs...)
}

// connectAs connects u over SSE with subs; the connection goes when the test ends.
func connectAs(t *testing.T, h *Hub, u User, subs ...Subscription) *Conn {
	t.Helper()
	c, err := h.Connect(context.Background(), ConnectOptions{User: u, Transport: TransportSSE, Subscriptions: subs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Disconnect(c) })
	return c
}

// receive drains c until it has n messages other than presence events, waiting on Ready.
func receive(t *testing.T, c *Conn, n int) []Message {
	t.Helper()
	return receiveMatching(t, c, n, func(m Message) bool {
		return m.Type != EventUserJoined && m.Type != EventUserLeft && m.Type != EventRoomInfo
	})
}

// receiveMatching drains c until it has n messages that keep accepts; it drops the others.
func receiveMatching(t *testing.T, c *Conn, n int, keep func(Message) bool) []Message {
	t.Helper()
	var got []Message
	deadline := time.After(testWait)
	for len(got) < n {
		msgs, err := c.Drain(context.Background(), nil, 1000)
		for _, m := range msgs {
			if keep(m) {
				m.Cursor = slices.Clone(m.Cursor) // the connection reuses the original at the next Drain
				got = append(got, m)
			}
		}
		if err != nil {
			t.Fatalf("drain after %d messages: %v (%s)", len(got), err, c.Reason())
		}
		if len(msgs) > 0 {
			continue
		}
		select {
		case <-c.Ready():
		case <-deadline:
			t.Fatalf("got %d messages, want %d: %v", len(got), n, types(got))
		}
	}
	return got
}

func types(msgs []Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Type)
	}
	return out
}

// seqs returns the "n" of each chat message's data, in order.
func seqs(t *testing.T, msgs []Message) []int {
	t.Helper()
	return numbersOf(t, msgs, EventChatMessage)
}

// numbersOf returns the "n" of the data of each message of type typ, in order.
func numbersOf(t *testing.T, msgs []Message, typ EventType) []int {
	t.Helper()
	var out []int
	for _, m := range msgs {
		if m.Type != typ {
			continue
		}
		var env struct {
			Data struct{ N int } `json:"data"`
		}
		if err := json.Unmarshal(m.Payload, &env); err != nil {
			t.Fatal(err)
		}
		out = append(out, env.Data.N)
	}
	return out
}

func chat(n int) any { return map[string]int{"n": n} }

func TestConnectedComesFirstWithACursor(t *testing.T) {
	h := newTestHub(t, newMemStore(), Config{})
	c := connect(t, h, "alice", Subscription{Topic: RoomTopic("a")})
	got := receive(t, c, 1)
	if got[0].Type != EventConnected || len(got[0].Cursor) == 0 {
		t.Fatalf("first message %+v", got[0])
	}
	cur, err := c.hub.ParseCursor(string(got[0].Cursor), c.User().ID)
	if err != nil || cur.Epoch != 7 || len(cur.Positions) != 1 {
		t.Fatalf("cursor %+v %v", cur, err)
	}
}

// Frames published out of offset order are delivered in order, each once.
func TestPublishDeliversInOffsetOrder(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{})
	c := connect(t, h, "alice", Subscription{Topic: "room:a"})
	receive(t, c, 1)
	f1, f2, f3 := store.append("room:a", EventChatMessage, chat(1)), store.append("room:a", EventChatMessage, chat(2)),
		store.append("room:a", EventChatMessage, chat(3))
	h.Publish(f3)
	h.Publish(f1)
	h.Publish(f1) // a duplicate
	h.Publish(f2)
	if got := seqs(t, receive(t, c, 3)); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("delivered %v", got)
	}
}

// A frame whose predecessor was committed but never published is completed from the log.
func TestGapIsFilledFromTheLog(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{GapWait: time.Millisecond})
	c := connect(t, h, "alice", Subscription{Topic: "room:a"})
	receive(t, c, 1)
	h.Publish(store.append("room:a", EventChatMessage, chat(1)))
	store.append("room:a", EventChatMessage, chat(2)) // committed, publish lost
	h.Publish(store.append("room:a", EventChatMessage, chat(3)))
	if got := seqs(t, receive(t, c, 3)); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("delivered %v", got)
	}
}

// A resumed subscription replays what it missed from the log, then continues live, with no
// duplicates even for frames published while the replay runs.
func TestResumeReplaysThenGoesLive(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{})
	for i := 1; i <= 5; i++ {
		store.append("room:a", EventChatMessage, chat(i))
	}
	from := uint64(2)
	c := connect(t, h, "alice", Subscription{Topic: "room:a", From: &from})
	h.Publish(store.append("room:a", EventChatMessage, chat(6)))
	got := receive(t, c, 5)
	if got[0].Type != EventConnected {
		t.Fatalf("first %s", got[0].Type)
	}
	if s := seqs(t, got); fmt.Sprint(s) != "[3 4 5 6]" {
		t.Fatalf("replayed %v", s)
	}
	last := cursorOf(t, c, got[len(got)-1])
	if last.Positions[0].Offset != 6 {
		t.Fatalf("cursor after replay: %+v", last)
	}
}

// A position older than retention yields a reset for the topic and never a partial replay.
func TestResumeOlderThanRetentionResets(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{})
	for i := 1; i <= 5; i++ {
		store.append("room:a", EventChatMessage, chat(i))
	}
	store.trim("room:a", 3)
	from := uint64(1)
	c := connect(t, h, "alice", Subscription{Topic: "room:a", From: &from})
	got := receive(t, c, 2)
	if got[1].Type != EventReset {
		t.Fatalf("got %v, want connected then reset", types(got))
	}
	cur := cursorOf(t, c, got[1])
	if cur.Positions[0].Offset != 5 {
		t.Fatalf("cursor after reset %+v, want the head", cur)
	}
	h.Publish(store.append("room:a", EventChatMessage, chat(6)))
	if s := seqs(t, receive(t, c, 1)); fmt.Sprint(s) != "[6]" {
		t.Fatalf("after reset got %v", s)
	}
}

// A subscriber that never drains is closed as slow; the others get everything.
func TestSlowConsumerIsClosedOthersUnaffected(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{QueueSize: 8})
	slow := connect(t, h, "slow", Subscription{Topic: "room:a"})
	fast := connect(t, h, "fast", Subscription{Topic: "room:a"})
	receive(t, fast, 1)
	aborted := make(chan struct{})
	slow.OnAbort(func() { close(aborted) })
	var got []Message
	for i := 1; i <= 50; i++ {
		h.Publish(store.append("room:a", EventChatMessage, chat(i)))
		got = append(got, receive(t, fast, 1)...)
	}
	if len(seqs(t, got)) != 50 {
		t.Fatalf("fast subscriber got %d of 50", len(seqs(t, got)))
	}
	select {
	case <-aborted:
	case <-time.After(testWait):
		t.Fatal("the stalled writer was not aborted")
	}
	if slow.Reason() != ReasonSlow {
		t.Fatalf("slow subscriber: reason %s", slow.Reason())
	}
}

// Subscribing while a topic is being published to loses nothing and duplicates nothing: a
// resumed subscription sees every event after its position, a fresh one a gapless suffix.
func TestSubscribeDuringPublishingIsExact(t *testing.T) {
	for round := range 20 {
		store := newMemStore()
		h := newTestHub(t, store, Config{QueueSize: 10_000})
		keep := connect(t, h, "keeper", Subscription{Topic: "room:a"}) // keeps the topic live
		_ = keep
		const total = 200
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 1; i <= total; i++ {
				h.Publish(store.append("room:a", EventChatMessage, chat(i)))
			}
		})
		zero := uint64(0)
		resumed := connect(t, h, "r", Subscription{Topic: "room:a", From: &zero})
		fresh := connect(t, h, "f", Subscription{Topic: "room:a"})
		wg.Wait()
		if s := seqs(t, receive(t, resumed, total+1)); len(s) != total || s[0] != 1 || s[total-1] != total {
			t.Fatalf("round %d: resumed subscription got %d events %v…", round, len(s), s[:min(5, len(s))])
		} else {
			for i, n := range s {
				if n != i+1 {
					t.Fatalf("round %d: resumed out of order at %d: %v", round, i, s)
				}
			}
		}
		got := receive(t, fresh, 1) // connected, and whatever followed it
		cur := cursorOf(t, fresh, got[0])
		start := int(cur.Positions[0].Offset)
		if rest := total - start + 1; len(got) < rest {
			got = append(got, receive(t, fresh, rest-len(got))...)
		}
		s := seqs(t, got)
		if len(s) != total-start {
			t.Fatalf("round %d: fresh subscription from %d got %d events", round, start, len(s))
		}
		for i, n := range s {
			if n != start+i+1 {
				t.Fatalf("round %d: fresh subscription from %d got %v", round, start, s)
			}
		}
	}
}

func TestUnsubscribeStopsDeliveryAndMovesTheCursor(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{})
	c := connect(t, h, "alice", Subscription{Topic: "room:a"})
	receive(t, c, 1)
	if err := h.Subscribe(context.Background(), c, "room:b"); err != nil {
		t.Fatal(err)
	}
	joined := receive(t, c, 1)[0]
	if joined.Type != EventRoomJoined {
		t.Fatalf("got %s", joined.Type)
	}
	if err := h.Unsubscribe(c, "room:a", "left"); err != nil {
		t.Fatal(err)
	}
	h.Publish(store.append("room:a", EventChatMessage, chat(1)))
	h.Publish(store.append("room:b", EventChatMessage, chat(2)))
	got := receive(t, c, 2)
	if got[0].Type != EventRoomLeft || fmt.Sprint(seqs(t, got)) != "[2]" {
		t.Fatalf("got %v %v", types(got), seqs(t, got))
	}
	cur := cursorOf(t, c, got[1])
	if len(cur.Positions) != 1 {
		t.Fatalf("cursor still names %d topics", len(cur.Positions))
	}
}

func TestKickDeliversKickedThenCloses(t *testing.T) {
	h := newTestHub(t, newMemStore(), Config{})
	c := connect(t, h, "alice")
	receive(t, c, 1)
	if n := h.Kick("alice", "spam"); n != 1 {
		t.Fatalf("kicked %d connections", n)
	}
	msgs, err := c.Drain(context.Background(), nil, 10)
	if err != ErrClosed || len(msgs) != 1 || msgs[0].Type != EventKicked || c.Reason() != ReasonKicked {
		t.Fatalf("after kick: %v %v %s", types(msgs), err, c.Reason())
	}
}
