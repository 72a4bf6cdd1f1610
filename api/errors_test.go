package api_test

import (
	"strings"
	"switchboard/db"
	"testing"
	"time"
)

// Every bad request gets the JSON error body with the right status, never a panic or HTML.
func TestBadInputGetsJSONErrors(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		bobConn := e.dialSSE(bob, "").conn.ConnectionID
		expired := e.tokenFor("alice", -time.Hour)
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			code, field               string
		}{
			{"no token", "POST", "/api/rooms/general/messages", "", `{"content":"x"}`, 401, "unauthorized", ""},
			{"garbage token", "POST", "/api/rooms/general/messages", "not.a.token", `{"content":"x"}`, 401, "invalid_token", ""},
			{"expired token", "POST", "/api/rooms/general/messages", expired, `{"content":"x"}`, 401, "token_expired", ""},
			{"stream without token", "GET", "/events", "", nil, 401, "unauthorized", ""},
			{"room with space", "POST", "/api/rooms/bad%20room/messages", alice, `{"content":"x"}`, 400, "validation_failed", "room"},
			{"room too long", "POST", "/api/rooms/" + strings.Repeat("r", 101) + "/messages", alice, `{"content":"x"}`, 400, "validation_failed", "room"},
			{"room in stream query", "GET", "/events?rooms=ok,bad!", alice, nil, 400, "validation_failed", "rooms"},
			{"empty content", "POST", "/api/rooms/general/messages", alice, `{"content":"   "}`, 400, "validation_failed", "content"},
			{"missing content", "POST", "/api/rooms/general/messages", alice, `{}`, 400, "validation_failed", "content"},
			{"content too long", "POST", "/api/rooms/general/messages", alice, `{"content":"` + strings.Repeat("é", 1001) + `"}`, 400, "validation_failed", "content"},
			{"content not a string", "POST", "/api/rooms/general/messages", alice, `{"content":5}`, 400, "validation_failed", "content"},
			{"NUL in content", "POST", "/api/rooms/general/messages", alice, `{"content":"a\u0000b"}`, 400, "validation_failed", ""},
			{"NUL after an escaped backslash", "POST", "/api/rooms/general/messages", alice, `{"content":"\\\u0000"}`, 400, "validation_failed", ""},
			{"NUL in client_id", "POST", "/api/rooms/general/messages", alice, `{"content":"x","client_id":"\u0000"}`, 400, "validation_failed", ""},
			{"the text \\u0000 is no NUL", "POST", "/api/rooms/general/messages", alice, `{"content":"a\\u0000b"}`, 201, "", ""},
			{"malformed JSON", "POST", "/api/rooms/general/messages", alice, `{"content":`, 400, "invalid_json", ""},
			{"JSON array", "POST", "/api/rooms/general/messages", alice, `["x"]`, 400, "invalid_json", ""},
			{"empty body", "POST", "/api/rooms/general/join", alice, ``, 400, "invalid_json", ""},
			{"body too large", "POST", "/api/rooms/general/messages", alice, `{"content":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "payload_too_large", ""},
			{"join without connection", "POST", "/api/rooms/general/join", alice, `{}`, 400, "validation_failed", "connection_id"},
			{"join unknown connection", "POST", "/api/rooms/general/join", alice, `{"connection_id":"c_NOPE"}`, 404, "connection_not_found", ""},
			{"join someone else's connection", "POST", "/api/rooms/general/join", alice, `{"connection_id":"` + bobConn + `"}`, 403, "forbidden", ""},
			{"leave someone else's connection", "POST", "/api/rooms/general/leave", alice, `{"connection_id":"` + bobConn + `"}`, 403, "forbidden", ""},
			{"typing without flag", "POST", "/api/rooms/general/typing", alice, `{}`, 400, "validation_failed", "typing"},
			{"typing on someone else's connection", "POST", "/api/rooms/general/typing", alice, `{"typing":true,"connection_id":"` + bobConn + `"}`, 403, "forbidden", ""},
			{"history of unknown room", "GET", "/api/rooms/nowhere/messages", alice, nil, 404, "room_not_found", ""},
			{"history limit", "GET", "/api/rooms/general/messages?limit=0", alice, nil, 400, "validation_failed", "limit"},
			{"history before garbage", "GET", "/api/rooms/general/messages?before=zzz", alice, nil, 400, "validation_failed", "before"},
			{"malformed cursor", "GET", "/events?last_event_id=%25%25%25", alice, nil, 400, "invalid_cursor", "cursor"},
			{"ws without upgrade", "GET", "/ws", alice, nil, 426, "upgrade_required", ""},
			{"poll foreign connection id", "GET", "/poll?connection_id=c_AAAAAAAAAAAAAAAAAAAAAAAA&timeout=0", alice, nil, 200, "", ""},
			{"poll bad connection id", "GET", "/poll?connection_id=nope", alice, nil, 400, "validation_failed", "connection_id"},
			{"poll bad timeout", "GET", "/poll?timeout=-1", alice, nil, 400, "validation_failed", "timeout"},
			{"poll NaN timeout", "GET", "/poll?timeout=NaN", alice, nil, 400, "validation_failed", "timeout"},
			{"poll endless timeout", "GET", "/poll?timeout=1e300", alice, nil, 400, "validation_failed", "timeout"},
			{"unknown route", "GET", "/nowhere", "", nil, 404, "not_found", ""},
		}
		e.post(alice, "general", "make the room exist")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				status, body := e.do(c.method, c.path, c.token, c.body)
				if status != c.status {
					t.Fatalf("status %d, want %d: %s", status, c.status, body)
				}
				if c.code == "" {
					return
				}
				var eb errorBody
				decode(t, body, &eb)
				if eb.Error.Code != c.code || eb.Error.Field != c.field || eb.Error.Message == "" {
					t.Fatalf("error %+v, want code %q field %q", eb.Error, c.code, c.field)
				}
			})
		}
	})
}
