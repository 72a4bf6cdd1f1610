package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedTTL bounds how long a verified token is taken on trust; a key removed from the
// configuration stops being honoured within it.
const verifiedTTL = time.Minute

// verifiedMax bounds the tokens remembered; past it, the memory starts over.
const verifiedMax = 50_000

// verifiedTokens remembers tokens that verified, for at most verifiedTTL and never past their
// expiry, so that a client posting or polling often has its signature checked once a minute
// rather than on every request (10 % of the CPU of a post, in the profile). Refused tokens
// are not remembered. Keys are SHA-256 digests: a token is never stored, and two tokens
// cannot share an entry.
type verifiedTokens struct {
	mu      sync.Mutex // guards entries
	entries map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	principal Principal
	until     time.Time
}

func (v *verifiedTokens) get(token string, now time.Time) (Principal, bool) {
	k := sha256.Sum256([]byte(token))
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[k]
	if !ok || !now.Before(e.until) {
		return Principal{}, false
	}
	return e.principal, true
}

func (v *verifiedTokens) put(token string, p Principal, now time.Time) {
	until := now.Add(verifiedTTL)
	if p.Expires.Before(until) {
		until = p.Expires
	}
	k := sha256.Sum256([]byte(token))
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil || len(v.entries) >= verifiedMax {
		v.entries = make(map[[sha256.Size]byte]verifiedToken)
	}
	v.entries[k] = verifiedToken{principal: p, until: until}
}
