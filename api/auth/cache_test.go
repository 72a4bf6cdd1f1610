package auth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"switchboard/realtime"
)

// A verified token is taken on trust until its expiry or verifiedTTL, whichever comes first,
// and only for the very same token.
func TestVerifiedTokensExpire(t *testing.T) {
	var v verifiedTokens
	now := time.Now()
	soon := Principal{User: realtime.User{ID: "alice"}, Expires: now.Add(10 * time.Second)}
	later := Principal{User: realtime.User{ID: "bob"}, Expires: now.Add(time.Hour)}
	v.put("token-a", soon, now)
	v.put("token-b", later, now)
	if p, ok := v.get("token-a", now.Add(9*time.Second)); !ok || p.ID != "alice" {
		t.Fatalf("before its expiry: %+v %v", p, ok)
	}
	if _, ok := v.get("token-a", now.Add(10*time.Second)); ok {
		t.Fatal("a token was trusted past its expiry")
	}
	if _, ok := v.get("token-b", now.Add(verifiedTTL)); ok {
		t.Fatal("a token was trusted past verifiedTTL")
	}
	if _, ok := v.get("token-c", now); ok {
		t.Fatal("an unknown token was trusted")
	}
}

// A token that opens a stream is verified and not remembered (VerifyOnce); one that Verify
// remembered is taken from memory by both.
func TestStreamTokensAreNotRemembered(t *testing.T) {
	a, err := New(Config{Secret: []byte("a-secret-of-at-least-32-bytes-long!!")})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := a.Issue(Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "alice"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.VerifyOnce(tok); err != nil || p.ID != "alice" {
		t.Fatalf("VerifyOnce: %+v %v", p, err)
	}
	if _, ok := a.verified.get(tok, time.Now()); ok {
		t.Fatal("VerifyOnce remembered the token")
	}
	if _, err := a.Verify(tok); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.verified.get(tok, time.Now()); !ok {
		t.Fatal("Verify did not remember the token")
	}
	if _, err := a.VerifyOnce(tok + "x"); err == nil {
		t.Fatal("VerifyOnce accepted a forged signature")
	}
}
