package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// inflightWait is the longest a request waits for one of its user's places.
const inflightWait = 2 * time.Second

// inflight bounds how many REST requests one user has under way at once, so that one user's
// flood holds at most that many of the database pool's connections and everyone else's
// requests find the rest free. A request over the bound waits briefly for a place, then is
// refused.
type inflight struct {
	max   int
	mu    sync.Mutex // guards users
	users map[string]*userPlaces
}

// userPlaces are one user's places: a token in slots per request under way. refs counts the
// requests holding or waiting for one, so that an idle user's entry goes away.
type userPlaces struct {
	slots chan struct{}
	refs  int
}

func (f *inflight) ref(userID string) *userPlaces {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users == nil {
		f.users = make(map[string]*userPlaces)
	}
	u := f.users[userID]
	if u == nil {
		u = &userPlaces{slots: make(chan struct{}, f.max)}
		f.users[userID] = u
	}
	u.refs++
	return u
}

func (f *inflight) unref(userID string, u *userPlaces) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u.refs--; u.refs == 0 {
		delete(f.users, userID)
	}
}

// acquire takes one of userID's places, waiting up to inflightWait (or until ctx ends) for one
// to free; release gives it back.
func (f *inflight) acquire(ctx context.Context, userID string) (release func(), ok bool) {
	u := f.ref(userID)
	select {
	case u.slots <- struct{}{}:
		return func() { <-u.slots; f.unref(userID, u) }, true
	default:
	}
	t := time.NewTimer(inflightWait)
	defer t.Stop()
	select {
	case u.slots <- struct{}{}:
		return func() { <-u.slots; f.unref(userID, u) }, true
	case <-t.C:
	case <-ctx.Done():
	}
	f.unref(userID, u)
	return nil, false
}

// boundPerUser is middleware, after requireAuth, that runs a request only in one of its user's
// places (LimitsConfig.MaxRequestsPerUser).
func (s *Server) boundPerUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		release, ok := s.inflight.acquire(c.Request().Context(), principal(c).ID)
		if !ok {
			s.metrics.rateLimited.WithLabelValues("in_flight").Inc()
			return &Error{Status: http.StatusTooManyRequests, Code: "too_many_requests", RetryAfter: 1,
				Message: fmt.Sprintf("you have %d requests under way already, the most one user may; wait for their answers", s.inflight.max)}
		}
		defer release()
		return next(c)
	}
}
