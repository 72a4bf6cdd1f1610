package api_test

import (
	"net/http"
	"strings"
	"testing"

	"switchboard/api"
	"switchboard/db"
)

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
