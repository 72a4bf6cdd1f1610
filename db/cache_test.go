package db

import (
	"errors"
	"testing"
)

// A value read from the database before a change was committed and forgotten must not be
// remembered after it: the change would be undone for cacheTTL.
func TestCacheDoesNotRememberWhatWasReadBeforeAForget(t *testing.T) {
	var c ttlCache[string, string]
	gen := c.generation() // a read begins…
	c.forget("alice")     // …a change is committed and forgotten…
	c.put("alice", "member", nil, gen)
	if _, _, ok := c.get("alice"); ok {
		t.Fatal("a value read before the forget was remembered")
	}
	c.put("alice", "gone", ErrNotFound, c.generation()) // a read that began after it
	if v, err, ok := c.get("alice"); !ok || v != "gone" || !errors.Is(err, ErrNotFound) {
		t.Fatalf("a fresh read was not remembered: %q %v %v", v, err, ok)
	}
}
