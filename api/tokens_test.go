package api_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"switchboard/api"
	"switchboard/api/auth"
	"switchboard/db"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Each forged, expired or wrong-algorithm token is refused with 401 and a reason.
func TestForgedTokensAreRefused(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rotated := []byte("the-new-secret-that-replaces-the-old-one")
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) {
		a.Auth.Issuer, a.Auth.Audience = "https://id.example", "switchboard"
		a.Auth.Keys = []auth.Key{{ID: "2026-11", Alg: "HS256", Material: rotated}, {ID: "ed", Alg: "EdDSA", Material: edPub}}
	}))
	claims := func(mod func(*jwt.RegisteredClaims)) jwt.Claims {
		c := auth.Claims{Name: "Alice"}
		c.Subject, c.Issuer, c.Audience = "alice", "https://id.example", jwt.ClaimStrings{"switchboard"}
		c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
		if mod != nil {
			mod(&c.RegisteredClaims)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
		tok := jwt.NewWithClaims(m, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	pubDER := rsaKey.PublicKey.N.Bytes()
	cases := []struct {
		name, token, code string
		ok                bool
	}{
		{"valid, default key", sign(jwt.SigningMethodHS256, testSecret, "", claims(nil)), "", true},
		{"valid, rotated key by kid", sign(jwt.SigningMethodHS256, rotated, "2026-11", claims(nil)), "", true},
		{"valid, EdDSA by kid", sign(jwt.SigningMethodEdDSA, edPriv, "ed", claims(nil)), "", true},
		{"alg none", unsigned, "invalid_token", false},
		{"wrong algorithm (HS384)", sign(jwt.SigningMethodHS384, testSecret, "", claims(nil)), "invalid_token", false},
		{"RS256 with no RSA key configured", sign(jwt.SigningMethodRS256, rsaKey, "", claims(nil)), "invalid_token", false},
		{"HS256 keyed with public key bytes", sign(jwt.SigningMethodHS256, pubDER, "", claims(nil)), "invalid_token", false},
		{"signed by another key", sign(jwt.SigningMethodHS256, []byte("someone-elses-secret-someone-elses!!"), "", claims(nil)), "invalid_token", false},
		{"kid of another algorithm", sign(jwt.SigningMethodHS256, rotated, "ed", claims(nil)), "invalid_token", false},
		{"unknown kid", sign(jwt.SigningMethodHS256, rotated, "2020-01", claims(nil)), "invalid_token", false},
		{"expired", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		})), "token_expired", false},
		{"no exp", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil })), "invalid_token", false},
		{"not valid yet", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
		})), "invalid_token", false},
		{"other issuer", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Issuer = "https://evil.example" })), "invalid_token", false},
		{"other audience", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"billing"} })), "invalid_token", false},
		{"no sub", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = "" })), "invalid_token", false},
		{"sub too long", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = strings.Repeat("u", 129) })), "invalid_token", false},
		{"longest sub", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = strings.Repeat("u", 128) })), "", true},
		{"the API key's sub", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = "api-key" })), "invalid_token", false},
		{"NUL in sub", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = "a\x00b" })), "invalid_token", false},
		{"garbage", "eyJhbGciOi.not-a-token", "invalid_token", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.do("GET", "/api/notifications/unread-count", c.token, nil)
			if c.ok {
				if status != http.StatusOK {
					t.Fatalf("a valid token was refused: %d %s", status, body)
				}
				return
			}
			var eb errorBody
			decode(t, body, &eb)
			if status != http.StatusUnauthorized || eb.Error.Code != c.code || eb.Error.Message == "" {
				t.Fatalf("%d %s, want 401 %s", status, body, c.code)
			}
			if strings.Contains(strings.ToLower(string(body)), "hmac") || strings.Contains(string(body), "crypto") {
				t.Fatalf("the refusal leaks detail: %s", body)
			}
		})
	}
}
