package auth

import (
	"testing"
	"time"

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
