package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

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

// Presence events carry last_seen in the wire's time format, as every other event time, and
// user_joined, user_left and user_presence name their room.
func TestPresenceDataWritesWireTimeAndItsRoom(t *testing.T) {
	at := time.Date(2026, 12, 5, 7, 54, 8, 413581630, time.FixedZone("CET", 3600))
	info := PresenceInfo{UserID: "alice", UserName: "Alice", Status: StatusOnline, LastSeen: WireTime{at}}
	b, err := json.Marshal(presenceData{Room: "general", PresenceInfo: info})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"room":"general","user_id":"alice","user_name":"Alice","status":"online","last_seen":"2026-12-05T06:54:08.413Z"}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back PresenceInfo // nodes tell each other who is present in this form
	if err := json.Unmarshal(b, &back); err != nil || !back.LastSeen.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("read back %+v, %v", back, err)
	}
}
