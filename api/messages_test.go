package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"switchboard/api/auth"
	"switchboard/db"
	"testing"
)

// A retried POST with the same client_id returns the first message and broadcasts nothing.
func TestClientIDMakesPostsIdempotent(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "rooms=general")
		body := map[string]string{"content": "once", "client_id": "retry-me"}
		var first, second message
		decode(t, e.mustDo(http.StatusCreated, "POST", "/api/rooms/general/messages", alice, body), &first)
		decode(t, e.mustDo(http.StatusOK, "POST", "/api/rooms/general/messages", alice, body), &second)
		if first.ID != second.ID || second.ClientID != "retry-me" {
			t.Fatalf("first %+v, retry %+v", first, second)
		}
		e.post(alice, "general", "after")
		if m := nextOf(t, stream, "chat_message").message(t); m.ID != first.ID {
			t.Fatalf("first broadcast %+v", m)
		}
		if m := nextOf(t, stream, "chat_message").message(t); m.Content != "after" {
			t.Fatalf("the retry was broadcast again: %+v", m)
		}
		// Another user may use the same client_id.
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/general/messages", e.token("bob", "Bob"), body)
	})
}

func TestHistoryPagesNewestFirst(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		for _, content := range []string{"one", "two", "three", "four", "five"} {
			e.post(alice, "general", content)
		}
		type page struct {
			Messages   []message `json:"messages"`
			NextBefore string    `json:"next_before"`
		}
		var got []string
		path := "/api/rooms/general/messages?limit=2"
		for range 3 {
			var p page
			decode(t, e.mustDo(http.StatusOK, "GET", path, alice, nil), &p)
			for _, m := range p.Messages {
				got = append(got, m.Content)
			}
			if p.NextBefore == "" {
				break
			}
			path = "/api/rooms/general/messages?limit=2&before=" + p.NextBefore
		}
		if strings.Join(got, ",") != "five,four,three,two,one" {
			t.Fatalf("history %v", got)
		}
	})
}

// Message ids are accepted in any form a UUID may take, with the same answer on both databases.
func TestMessageIDsInAnyUUIDForm(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		e.post(alice, "general", "one")
		second := e.post(alice, "general", "two")
		for _, form := range []string{strings.ToUpper(second.ID), "{" + second.ID + "}", "urn:uuid:" + second.ID,
			strings.ReplaceAll(second.ID, "-", "")} {
			var page struct {
				Messages []message `json:"messages"`
			}
			decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/general/messages?before="+url.QueryEscape(form), alice, nil), &page)
			if len(page.Messages) != 1 || page.Messages[0].Content != "one" {
				t.Fatalf("before=%s: %+v", form, page.Messages)
			}
		}
	})
}

// The author's avatar, from the token's avatar claim, travels with a message: in the REST
// answer, live, and in the history.
func TestMessagesCarryTheAuthorsAvatar(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		const avatar = "https://cdn.example/alice.png"
		alice := e.tokenWith(auth.Claims{Name: "Alice", Avatar: avatar}, "alice")
		bob := e.token("bob", "Bob")
		stream := e.dialSSE(bob, "rooms=general")
		posted := e.mustDo(http.StatusCreated, "POST", "/api/rooms/general/messages", alice, map[string]string{"content": "hi"})
		if !jsonHas(t, posted, "user_avatar", avatar) {
			t.Fatalf("posted %s", posted)
		}
		if ev := nextOf(t, stream, "chat_message"); !jsonHas(t, ev.Data, "user_avatar", avatar) {
			t.Fatalf("live %s", ev.Data)
		}
		var page struct {
			Messages []json.RawMessage `json:"messages"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/general/messages", bob, nil), &page)
		if len(page.Messages) != 1 || !jsonHas(t, page.Messages[0], "user_avatar", avatar) {
			t.Fatalf("history %s", page.Messages)
		}
	})
}
