package realtime

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestSlowClientActionDoesNotFailTheHeartbeat: while the reader carries out a client action
// it reads no pongs, so pings time out; that must not cut off a client that answers them.
func TestSlowClientActionDoesNotFailTheHeartbeat(t *testing.T) {
	store := newMemStore()
	h := newTestHub(t, store, Config{Heartbeat: 50 * time.Millisecond})
	started, release := make(chan struct{}), make(chan struct{})
	var conn atomic.Pointer[Conn]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := h.Connect(r.Context(), ConnectOptions{User: User{ID: "alice"}, Transport: TransportWS,
			Subscriptions: []Subscription{{Topic: "room:a"}}})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		conn.Store(c)
		_ = ServeWS(w, r, c, WSOptions{Handle: func(context.Context, *Conn, ClientMessage) (any, error) {
			close(started)
			<-release // a database wait, many heartbeats long
			return nil, nil
		}}, func() { h.Disconnect(c) })
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pings := make(chan struct{}, 100)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { pings <- struct{}{}; return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	events := make(chan string, 16)
	go func() { // reading answers the pings
		for {
			_, data, err := ws.Read(ctx)
			if err != nil {
				close(events)
				return
			}
			events <- string(data)
		}
	}()
	if ev := <-events; !strings.Contains(ev, `"connected"`) {
		t.Fatalf("first event %s", ev)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","room":"a"}`)); err != nil {
		t.Fatal(err)
	}
	<-started
	for n := 0; n < 4; { // the first ping's wait (one heartbeat) is over by the third
		select {
		case <-pings:
			n++
		case _, open := <-events:
			if !open {
				t.Fatalf("the connection ended (%s) during the action", conn.Load().Reason())
			}
		case <-ctx.Done():
			t.Fatal("no heartbeat pings")
		}
	}
	close(release)
	h.Publish(store.append("room:a", EventChatMessage, chat(1)))
	for ev := range events {
		if strings.Contains(ev, `"chat_message"`) {
			if r := conn.Load().Reason(); r != ReasonNone {
				t.Fatalf("connection closed: %s", r)
			}
			return
		}
	}
	t.Fatalf("the connection ended (%s) before the next message", conn.Load().Reason())
}
