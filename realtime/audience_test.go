package realtime

import (
	"fmt"
	"testing"
)

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
	if cur := cursorOf(t, plain, got[0]); cur.Positions[0].Offset != 2 {
		t.Fatalf("cursor %+v: the position did not pass over the frame meant for others", cur)
	}
	// Resuming from before both replays only the one meant for everyone.
	cur := cursorOf(t, plain, first[0])
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
