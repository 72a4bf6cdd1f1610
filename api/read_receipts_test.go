package api_test

import (
	"net/http"
	"testing"
	"time"

	"switchboard/db"
)

// A read receipt says when the message was read, not when it was written: read_at is the time
// of the request, in the answer and in the read_receipt event alike.
func TestReadReceiptSaysWhenItWasRead(t *testing.T) {
	e := newEnv(t, db.SQLite)
	alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
	msg := e.post(alice, "general", "read me later")
	stream := e.dialSSE(alice, "rooms=general")
	sent := time.Now() // the message was written by now
	waitUntil(t, "the clock to move past the message", func() bool { return time.Since(sent) > 5*time.Millisecond })
	before := time.Now().UTC().Truncate(time.Millisecond)
	var receipt struct {
		ReadAt time.Time `json:"read_at"`
	}
	decode(t, e.mustDo(http.StatusOK, "POST", "/api/rooms/general/read", bob, map[string]string{"message_id": msg.ID}), &receipt)
	if receipt.ReadAt.Before(before) {
		t.Fatalf("read_at %s, before the read request at %s (the message was sent at %s)", receipt.ReadAt, before, sent)
	}
	ev := nextOf(t, stream, "read_receipt")
	var data struct {
		ReadAt time.Time `json:"read_at"`
	}
	decode(t, ev.Data, &data)
	if !data.ReadAt.Equal(receipt.ReadAt) {
		t.Fatalf("read_receipt event says read_at %s, the answer %s", data.ReadAt, receipt.ReadAt)
	}
}
