package auth_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"switchboard/api/auth"
)

var secret = []byte("test-secret-test-secret-test-secret!")

// Any string presented as a token is either accepted, naming a user, or refused with an
// *auth.Error that says why (a 401 for the API); never a panic.
func FuzzVerifyToken(f *testing.F) {
	a, err := auth.New(auth.Config{Secret: secret})
	if err != nil {
		f.Fatal(err)
	}
	var c auth.Claims
	c.Subject = "alice"
	valid, _, _ := auth.IssueToken(secret, c, time.Hour)
	for _, s := range []string{valid, "", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", valid + "x", strings.ToUpper(valid)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := a.Verify(tok)
		if err == nil {
			if p.ID == "" {
				t.Fatalf("accepted %q without a subject", tok)
			}
			return
		}
		var e *auth.Error
		if !errors.As(err, &e) || (e.Code != "invalid_token" && e.Code != "token_expired") || e.Message == "" {
			t.Fatalf("refusal of %q is not an *auth.Error: %v", tok, err)
		}
	})
}
