package realtime

import (
	"context"
	"strings"
	"testing"
)

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
