package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/api/auth"
	"switchboard/db"
	"switchboard/db/dbtest"
)

// fuzzRoutes are the REST routes whose bodies and room keys the fuzzer feeds.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/api/rooms/{room}/messages"},
	{"POST", "/api/rooms"},
	{"PATCH", "/api/rooms/{room}"},
	{"POST", "/api/rooms/{room}/members"},
	{"POST", "/api/rooms/{room}/read"},
	{"POST", "/api/rooms/{room}/typing"},
	{"POST", "/api/rooms/{room}/join"},
	{"PUT", "/api/presence"},
	{"POST", "/api/admin/notifications"},
	{"POST", "/api/admin/announcements"},
	{"POST", "/api/publish"},
	{"GET", "/api/rooms/{room}/messages?limit={body}&before={body}"},
	{"GET", "/api/notifications?limit={body}&cursor={body}&unread={body}"},
}

// Every client body and room key gets a 2xx, a 4xx or a 503 with the JSON error body: never a
// 500, a panic or HTML.
func FuzzRESTBodies(f *testing.F) {
	r, err := api.Start(context.Background(), api.Setup{Addr: "127.0.0.1:0", Store: dbtest.Open(f, db.SQLite),
		API: api.Config{Auth: auth.Config{Secret: testSecret}, Limits: unlimited()}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { r.Shutdown(context.Background()) })
	srv := r.API
	claims := auth.Claims{Name: "Fuzz", Roles: []string{"admin"}, Permissions: []string{api.PermAdminConnections,
		api.PermSendNotifications, api.PermSendAnnouncements, api.PermPublish}}
	claims.Subject = "fuzzer"
	token, _, err := auth.IssueToken(testSecret, claims, 24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct {
		route uint8
		room  string
		body  string
	}{
		{0, "general", `{"content":"hi","client_id":"c1"}`},
		{1, "", `{"name":"Fuzz room","type":"group","private":true,"settings":{"a":1}}`},
		{1, "", `{"type":"direct","members":["bob"]}`},
		{2, "general", `{"name":"x","settings":[]}`},
		{3, "general", `{"user_id":"bob","role":"admin"}`},
		{4, "general", `{"message_id":"01a2c3d4-0000-7000-8000-000000000000"}`},
		{5, "general", `{"typing":true}`},
		{6, "general", `{"connection_id":"c_AAAAAAAAAAAAAAAAAAAAAAAA"}`},
		{7, "", `{"status":"away","current_page":"/x"}`},
		{8, "", `{"user_id":"bob","notification":{"title":"t","priority":"critical","expires_at":"2099-01-01T00:00:00Z"}}`},
		{9, "", `{"title":"t","message":"m","type":"warning","target_roles":["admin"],"starts_at":"2099-01-01T00:00:00Z"}`},
		{10, "", `{"type":"stock.changed","data":{"n":1},"rooms":["general"],"roles":["ops"]}`},
		{11, "general", "5"},
		{12, "", "true"},
		{0, "bad room!", `{"content":` + "\"\xff\""},
	} {
		f.Add(seed.route, seed.room, []byte(seed.body))
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, route uint8, room string, body []byte) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := strings.ReplaceAll(r.path, "{room}", url.PathEscape(room))
		path = strings.ReplaceAll(path, "{body}", url.QueryEscape(string(body)))
		req := httptest.NewRequest(r.method, path, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s %q: %d %s", r.method, path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var eb struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
				t.Fatalf("%s %s %q: %d without the JSON error body: %s", r.method, path, body, rec.Code, rec.Body)
			}
		}
	})
}
