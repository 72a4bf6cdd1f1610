package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"switchboard/db"
	"switchboard/realtime"
)

// A burst reaches a WebSocket client in batches written at once; every message arrives whole
// and in order, of any size.
func TestWebSocketBatchesArriveWhole(t *testing.T) {
	e := newEnv(t, db.SQLite)
	ws := e.dialWS(e.token("alice", "Alice"), "rooms=general")
	const n = 200
	for i := range n {
		body := strings.Repeat("x", (i*997)%12000) // up to 12 KB: beyond one write buffer
		env, err := realtime.Event{Type: "data_update", Room: "general", Data: map[string]any{"i": i, "body": body}}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		e.hub.Publish(&realtime.Frame{Topic: realtime.RoomTopic("general"), Type: "data_update", Payload: env})
	}
	for i := range n {
		ev := nextOf(t, ws, "data_update")
		var d struct {
			I    int    `json:"i"`
			Body string `json:"body"`
		}
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.I != i || len(d.Body) != (i*997)%12000 {
			t.Fatalf("message %d arrived as %d with %d bytes", i, d.I, len(d.Body))
		}
	}
}
