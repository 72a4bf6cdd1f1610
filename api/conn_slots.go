package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"switchboard/db"
)

// connSlots keeps each user within MaxConnsPerUser live connections, and the node within
// MaxConns, exactly: a connect takes its slot before the slow work of opening (the database,
// a replay) and holds it until the hub has registered the connection, so that concurrent
// connects cannot all pass a check made before any of them counts. In a cluster the user's
// slot is also reserved in the database, which every node shares.
type connSlots struct {
	mu      sync.Mutex     // guards pending and total
	pending map[string]int // user → connects admitted and not yet registered with the hub
	total   int            // all pending connects
}

// connSlotStale is how long the database keeps the slots of a node that stopped saying its
// connections are live (it died); nodes say so every connSlotStale/4.
const connSlotStale = 2 * time.Minute

// takeSlot admits one more connection of p with id connID, or refuses it with 429 (the user's
// cap) or 503 (the node's). The returned done must be called once the hub has the connection
// registered, or the connect failed (then registered is false and the slot is given back).
func (s *Server) takeSlot(ctx context.Context, p Principal, connID string) (done func(registered bool), err error) {
	sl := &s.slots
	sl.mu.Lock()
	mine := len(s.hub.UserConns(p.ID)) + sl.pending[p.ID]
	if mine >= s.cfg.Limits.MaxConnsPerUser {
		sl.mu.Unlock()
		return nil, tooManyConns(mine)
	}
	if s.hub.ConnCount()+sl.total >= s.cfg.Limits.MaxConns {
		sl.mu.Unlock()
		return nil, unavailable("this server is at its connection limit; try again shortly", 5, nil)
	}
	if sl.pending == nil {
		sl.pending = make(map[string]int)
	}
	sl.pending[p.ID]++
	sl.total++
	sl.mu.Unlock()

	release := func() {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		if sl.pending[p.ID]--; sl.pending[p.ID] <= 0 {
			delete(sl.pending, p.ID)
		}
		sl.total--
	}
	if s.cfg.Cluster != nil {
		if err := s.db.ReserveConnSlot(ctx, p.ID, connID, s.cfg.Limits.MaxConnsPerUser); err != nil {
			release()
			if errors.Is(err, db.ErrConnLimit) {
				return nil, tooManyConns(s.cfg.Limits.MaxConnsPerUser)
			}
			return nil, err
		}
	}
	return func(registered bool) {
		release()
		if !registered {
			s.releaseSlot(connID)
		}
	}, nil
}

// releaseSlot gives back the cluster's slot of a connection that ended.
func (s *Server) releaseSlot(connID string) {
	if s.cfg.Cluster == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.db.ReleaseConnSlot(ctx, connID); err != nil {
		s.log.Warn("releasing a connection slot", "conn", connID, "err", err)
	}
}

// keepSlots keeps the database's slots true until ctx ends: this node's live connections marked
// as such, its ended ones dropped, and so those of nodes that died.
func (s *Server) keepSlots(ctx context.Context) {
	if s.cfg.Cluster == nil {
		return
	}
	t := time.NewTicker(connSlotStale / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		live := func(id string) bool { _, ok := s.hub.Conn(id); return ok }
		if err := s.db.KeepConnSlots(ctx, connSlotStale, live); err != nil && ctx.Err() == nil {
			s.log.Warn("keeping connection slots", "err", err)
		}
	}
}

// tooManyConns refuses a user that holds n live connections already.
func tooManyConns(n int) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: "too_many_connections", RetryAfter: 10,
		Message: fmt.Sprintf("you already have %d live connections; close one (one stream per tab can carry every room)", n)}
}
