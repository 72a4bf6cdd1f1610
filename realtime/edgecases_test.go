package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// A subscription refused for too many topics leaves no topic behind in the hub.
func TestRefusedSubscribeLeavesNoTopic(t *testing.T) {
	h := newTestHub(t, newMemStore(), Config{MaxTopics: 2})
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

// A connection becomes visible to lookups only once Connect has finished with it.
func TestConnIsFindableOnlyWhenComplete(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{})
	const id = "c_AAAAAAAAAAAAAAAAAAAAAAAA"
	found := make(chan *Conn, 1)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c, ok := h.Conn(id); ok {
				found <- c
				return
			}
		}
	}()
	c, err := h.Connect(context.Background(), ConnectOptions{ID: id, User: User{ID: "u"}, Transport: TransportPoll,
		Subscriptions: []Subscription{{Topic: "user:u"}, {Topic: "room:a"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Disconnect(c)
	seen := <-found
	close(stop)
	msgs, _, err := seen.Poll(context.Background(), 0, 10, "")
	if err != nil || msgs[0].Type != EventConnected || !strings.Contains(string(msgs[0].Payload), `"rooms":["a"]`) {
		t.Fatalf("the connection found first said %v %v", types(msgs), err)
	}
}

// In a crowd, arrivals are announced one by one only up to PresenceRoomLimit, and the counts
// that change within RoomInfoDelay go out as one room_info.
func TestPresenceScalesToCrowds(t *testing.T) {
	h := newTestHub(t, newMemStore(), Config{PresenceRoomLimit: 3, RoomInfoDelay: 50 * time.Millisecond})
	watcher := connect(t, h, "watcher", Subscription{Topic: "room:big"})
	for i := range 10 {
		connect(t, h, fmt.Sprint("u", i), Subscription{Topic: "room:big"})
	}
	isPresence := func(m Message) bool { return m.Type == EventUserJoined || m.Type == EventRoomInfo }
	var joined, infos int
	for last := 0; last != 11; {
		for _, m := range receiveMatching(t, watcher, 1, isPresence) {
			switch m.Type {
			case EventUserJoined:
				joined++
			case EventRoomInfo:
				infos++
				var env struct {
					Data struct {
						Count int `json:"online_count"`
					} `json:"data"`
				}
				json.Unmarshal(m.Payload, &env)
				last = env.Data.Count
			}
		}
	}
	if joined != 3 { // the watcher itself, then two more: the room is full of news after that
		t.Fatalf("%d user_joined events, want 3", joined)
	}
	if infos >= 11 {
		t.Fatalf("%d room_info events for 11 arrivals: not coalesced", infos)
	}
}

// A frame for an audience of roles reaches only its holders — live and on replay — while every
// subscriber's position passes over it, so a resume never replays it to the others.
func TestAudienceLimitsDeliveryLiveAndOnReplay(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{})
	admin := connectAs(t, h, User{ID: "ann", Roles: []string{"admin"}}, Subscription{Topic: TopicAll})
	plain := connectAs(t, h, User{ID: "bob"}, Subscription{Topic: TopicAll})
	receive(t, admin, 1)
	first := receive(t, plain, 1)
	h.Publish(store.appendFor(TopicAll, EventSystemAnnouncement, chat(1), "admin", "ops"))
	h.Publish(store.append(TopicAll, EventSystemAnnouncement, chat(2)))
	if got := fmt.Sprint(announcements(t, receive(t, admin, 2))); got != "[1 2]" {
		t.Fatalf("admin got %s", got)
	}
	got := receive(t, plain, 1)
	if fmt.Sprint(announcements(t, got)) != "[2]" {
		t.Fatalf("a user without the role got %v", announcements(t, got))
	}
	if cur, _ := ParseCursor(string(got[0].Cursor)); cur.Positions[0].Offset != 2 {
		t.Fatalf("cursor %+v: the position did not pass over the frame meant for others", cur)
	}
	// Resuming from before both replays only the one meant for everyone.
	cur, _ := ParseCursor(string(first[0].Cursor))
	from := cur.Positions[0].Offset
	again := connectAs(t, h, User{ID: "bob"}, Subscription{Topic: TopicAll, From: &from})
	if got := fmt.Sprint(announcements(t, receive(t, again, 2))); got != "[2]" {
		t.Fatalf("replay to a user without the role: %s", got)
	}
}

// announcements returns the "n" of each system announcement's data, in order.
func announcements(t *testing.T, msgs []Message) []int {
	t.Helper()
	return numbersOf(t, msgs, EventSystemAnnouncement)
}

// TestJoinRacingDisconnectLeavesNoGhost: a room join racing with the connection's end must
// not leave the user shown in the room with no connection (the leave ran before the join's
// presence entry, found nothing to undo, and the entry then stayed).
func TestJoinRacingDisconnectLeavesNoGhost(t *testing.T) {
	h := newTestHub(t, newMemStore(), Config{PresenceGrace: time.Millisecond})
	const n, rooms = 2000, 50
	var wg sync.WaitGroup
	for i := range n {
		c, err := h.Connect(context.Background(), ConnectOptions{User: User{ID: fmt.Sprint("u", i)}, Transport: TransportSSE})
		if err != nil {
			t.Fatal(err)
		}
		topic := RoomTopic(fmt.Sprint("r", i%rooms))
		wg.Add(2)
		go func() { defer wg.Done(); _ = h.Subscribe(context.Background(), c, topic) }()
		go func() {
			defer wg.Done()
			for !c.Subscribed(topic) && !c.out.isClosed() {
				runtime.Gosched() // disconnect right after the join registers
			}
			h.Disconnect(c)
		}()
	}
	wg.Wait()
	inRooms := func() int {
		total := 0
		for i := range rooms {
			total += h.OnlineCount(fmt.Sprint("r", i))
		}
		return total
	}
	for deadline := time.Now().Add(5 * time.Second); inRooms() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) { // the leaves' grace (1 ms) is long over
			t.Fatalf("%d users still shown in rooms with no connection left", inRooms())
		}
	}
}
