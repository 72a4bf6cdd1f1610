package realtime

import (
	"crypto/rand"
	"encoding/base32"
	"slices"
	"sync"
)

// registry indexes live connections by id and by user.
type registry struct {
	mu     sync.RWMutex // guards the fields below
	byID   map[string]*Conn
	byUser map[string][]*Conn // a user has few connections: a slice costs less than a set
	empty  chan struct{}      // closed when the registry becomes empty; nil until asked for
}

func (r *registry) init() {
	r.byID = make(map[string]*Conn)
	r.byUser = make(map[string][]*Conn)
}

func (r *registry) add(c *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byID[c.id] = c
	r.byUser[c.user.ID] = append(r.byUser[c.user.ID], c)
}

func (r *registry) remove(c *Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[c.id] == c {
		delete(r.byID, c.id)
	}
	if conns := r.byUser[c.user.ID]; len(conns) > 0 {
		if i := slices.Index(conns, c); i >= 0 {
			last := len(conns) - 1
			conns[i], conns[last] = conns[last], nil
			conns = conns[:last]
		}
		if len(conns) == 0 {
			delete(r.byUser, c.user.ID)
		} else {
			r.byUser[c.user.ID] = conns
		}
	}
	if len(r.byID) == 0 && r.empty != nil {
		close(r.empty)
		r.empty = nil
	}
}

func (r *registry) get(id string) (*Conn, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.byID[id]
	return c, ok
}

func (r *registry) count() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.byID)
}

func (r *registry) all() []*Conn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Conn, 0, len(r.byID))
	for _, c := range r.byID {
		out = append(out, c)
	}
	return out
}

func (r *registry) ofUser(userID string) []*Conn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.byUser[userID])
}

// drained returns a channel closed once no connection is left.
func (r *registry) drained() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.byID) == 0 {
		ch := make(chan struct{})
		close(ch)
		return ch
	}
	if r.empty == nil {
		r.empty = make(chan struct{})
	}
	return r.empty
}

var connIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newConnID returns a random, unguessable connection id.
// NewConnID returns a fresh connection id, for a caller that must name a connection before it
// connects.
func NewConnID() string { return newConnID() }

func newConnID() string {
	var b [15]byte
	rand.Read(b[:])
	return "c_" + connIDEncoding.EncodeToString(b[:])
}
