package api_test

import (
	"net/http"
	"switchboard/api"
	"switchboard/db"
	"testing"
)

// CORS admits the configured origins only, with credentials, on REST and SSE.
func TestCORSAdmitsConfiguredOrigins(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.CORSOrigins = []string{"https://app.example"} }))
	for origin, allowed := range map[string]bool{"https://app.example": true, "https://evil.example": false} {
		req, _ := http.NewRequest("OPTIONS", e.base+"/api/rooms/general/messages", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("Access-Control-Allow-Origin")
		if allowed && (got != origin || res.Header.Get("Access-Control-Allow-Credentials") != "true") {
			t.Fatalf("preflight from %s: allow-origin %q", origin, got)
		}
		if !allowed && got != "" {
			t.Fatalf("preflight from %s was allowed", origin)
		}
	}
}
