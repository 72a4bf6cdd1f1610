package api

import (
	"sync"
	"time"
)

// Kick blocks: how long a kicked user is kept out by default, and at most.
const (
	defaultKickBlock = 5 * time.Minute
	maxKickBlock     = 7 * 24 * time.Hour
)

// blocks are the users a kick keeps out for a while: until then their new streams and their
// REST writes are refused. Every node of a cluster holds the blocks it was told of (the kick's
// control request carries the block); a node started after a kick does not know it.
type blocks struct {
	mu    sync.Mutex // guards until
	until map[string]time.Time
}

// block keeps userID out until the given time (a later block of the same user wins).
func (b *blocks) block(userID string, until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.until == nil {
		b.until = make(map[string]time.Time)
	}
	now := time.Now()
	for id, t := range b.until { // blocks are rare: sweeping on each keeps the map small
		if !t.After(now) {
			delete(b.until, id)
		}
	}
	if until.After(b.until[userID]) {
		b.until[userID] = until
	}
}

// blockedUntil returns when userID's block ends, or zero when it is not blocked.
func (b *blocks) blockedUntil(userID string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := b.until[userID]; t.After(time.Now()) {
		return t
	}
	return time.Time{}
}
