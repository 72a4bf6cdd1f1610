package db

import (
	"sync"
	"time"
)

// cacheTTL bounds how stale a cached room or membership may be. Changes made through this node
// invalidate at once; a change made on another node of a cluster shows here within cacheTTL.
const cacheTTL = 2 * time.Second

// cacheMax bounds the entries of one cache; past it, the cache starts over.
const cacheMax = 100_000

// ttlCache remembers values, found or not, for cacheTTL. Posting a message needs its room and
// the poster's membership: read them from the database once per cacheTTL, not on every post.
type ttlCache[K comparable, V any] struct {
	mu      sync.Mutex // guards entries and gen
	entries map[K]cached[V]
	gen     uint64 // bumped by every forget: a value read before it may be stale
}

type cached[V any] struct {
	value   V
	err     error // ErrNotFound, remembered too
	expires time.Time
}

func (c *ttlCache[K, V]) get(k K) (V, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || time.Now().After(e.expires) {
		var zero V
		return zero, nil, false
	}
	return e.value, e.err, true
}

// generation returns what a read from the database starts at; put it with the value read.
func (c *ttlCache[K, V]) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put remembers v, read at generation gen, unless something was forgotten since: a change
// committed while v was being read would otherwise be undone until the entry expires.
func (c *ttlCache[K, V]) put(k K, v V, err error, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.entries == nil || len(c.entries) >= cacheMax {
		c.entries = make(map[K]cached[V])
	}
	c.entries[k] = cached[V]{value: v, err: err, expires: time.Now().Add(cacheTTL)}
}

func (c *ttlCache[K, V]) forget(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, k)
	c.gen++
}

type memberKey struct{ room, user string }
