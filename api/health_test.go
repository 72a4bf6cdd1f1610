package api_test

import (
	"net/http"
	"switchboard/db"
	"testing"
	"time"
)

// GET /healthz says the process is up; GET /ws/health counts live connections and rooms in the
// seed's shape, and follows them as they change.
func TestHealthEndpoints(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		var up struct {
			Status string `json:"status"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/healthz", "", nil), &up)
		if up.Status != "ok" {
			t.Fatalf("/healthz %+v", up)
		}
		type wsHealth struct {
			Status           string `json:"status"`
			ConnectedClients int    `json:"connectedClients"`
			ActiveRooms      int    `json:"activeRooms"`
			Timestamp        string `json:"timestamp"`
		}
		health := func() wsHealth {
			var h wsHealth
			decode(t, e.mustDo(http.StatusOK, "GET", "/ws/health", "", nil), &h)
			return h
		}
		e.dialSSE(e.token("alice", "Alice"), "rooms=general")
		ws := e.dialWS(e.token("bob", "Bob"), "rooms=general,random")
		h := health()
		ts, err := time.Parse(time.RFC3339Nano, h.Timestamp)
		if h.Status != "ok" || h.ConnectedClients != 2 || h.ActiveRooms != 2 || err != nil || time.Since(ts).Abs() > time.Minute {
			t.Fatalf("/ws/health %+v (timestamp: %v)", h, err)
		}
		ws.ws.CloseNow()
		waitUntil(t, "/ws/health counting the closed WebSocket out", func() bool {
			h := health()
			return h.ConnectedClients == 1 && h.ActiveRooms == 1
		})
	})
}
