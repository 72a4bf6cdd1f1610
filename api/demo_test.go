package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"switchboard/api"
	"switchboard/db"
	"testing"
	"time"
)

// In demo mode, POST /api/auth/demo hands out a working token for the name given, also as an
// HttpOnly cookie; with a secret configured, demo sign-in does not exist.
func TestDemoSignIn(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) { a.Auth.Demo = true }))
		res, err := http.Post(e.base+"/api/auth/demo", "application/json", strings.NewReader(`{"name":"alice"}`))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Token     string `json:"token"`
			ExpiresAt string `json:"expires_at"`
			User      struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"user"`
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || out.Token == "" || out.User.ID != "alice" || out.User.Name != "alice" {
			t.Fatalf("demo sign-in: %d %+v %v", res.StatusCode, out, err)
		}
		if exp, err := time.Parse(time.RFC3339Nano, out.ExpiresAt); err != nil || !exp.After(time.Now()) {
			t.Fatalf("expires_at %q", out.ExpiresAt)
		}
		cookies := res.Cookies()
		if !slices.ContainsFunc(cookies, func(c *http.Cookie) bool { return c.Name == api.TokenCookie && c.Value == out.Token && c.HttpOnly }) {
			t.Fatalf("cookies %v", cookies)
		}
		stream := e.dialSSE(out.Token, "rooms=general")
		if stream.conn.UserID != "alice" {
			t.Fatalf("the demo token connected as %q", stream.conn.UserID)
		}
		e.post(out.Token, "general", "hello")
		if m := nextOf(t, stream, "chat_message").message(t); m.UserID != "alice" || m.UserName != "alice" {
			t.Fatalf("posted with the demo token: %+v", m)
		}
		if status, _ := e.do("GET", "/api/admin/stats", out.Token, nil); status != http.StatusForbidden {
			t.Fatalf("a plain demo token reached the admin API: %d", status)
		}
		if status, body := e.do("POST", "/api/auth/demo", "", `{"name":"  "}`); status != http.StatusBadRequest || !strings.Contains(string(body), `"field":"name"`) {
			t.Fatalf("a blank name: %d %s", status, body)
		}
		if status, body := e.do("POST", "/api/auth/demo", "", `{"name":"API key"}`); status != http.StatusBadRequest || !strings.Contains(string(body), `"field":"name"`) {
			t.Fatalf("the API key's id as a name: %d %s", status, body)
		}

		withSecret := newEnv(t, kind)
		status, body := withSecret.do("POST", "/api/auth/demo", "", `{"name":"alice"}`)
		var eb errorBody
		decode(t, body, &eb)
		if status != http.StatusNotFound || eb.Error.Code != "demo_disabled" {
			t.Fatalf("demo sign-in with a secret configured: %d %s", status, body)
		}
	})
}

// The token cookie is Secure when the client came over TLS, also through a trusted proxy that
// terminated it; a client cannot claim TLS through an untrusted X-Forwarded-Proto.
func TestTokenCookieIsSecureOverTLS(t *testing.T) {
	for _, tc := range []struct {
		trustProxy bool
		proto      string
		secure     bool
	}{
		{trustProxy: true, proto: "https", secure: true},
		{trustProxy: true, proto: "", secure: false},
		{trustProxy: false, proto: "https", secure: false},
	} {
		e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.Auth.Demo, a.TrustProxy = true, tc.trustProxy }))
		req, err := http.NewRequest("POST", e.base+"/api/auth/demo", strings.NewReader(`{"name":"alice"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if tc.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		var cookie *http.Cookie
		for _, c := range res.Cookies() {
			if c.Name == api.TokenCookie {
				cookie = c
			}
		}
		if res.StatusCode != http.StatusOK || cookie == nil {
			t.Fatalf("%+v: status %d, cookies %v", tc, res.StatusCode, res.Cookies())
		}
		if cookie.Secure != tc.secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
			t.Fatalf("%+v: cookie %s", tc, cookie)
		}
	}
}
