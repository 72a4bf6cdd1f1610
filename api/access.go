package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"switchboard/db"
)

// roomAccess is what one user may do in one room.
type roomAccess struct {
	room   db.Room
	member *db.Member // nil when the user is not a member
}

func (a roomAccess) canRead() bool { return !a.room.Private || a.member != nil }

func (a roomAccess) role() string {
	if a.member == nil {
		return ""
	}
	return a.member.Role
}

func (a roomAccess) isAdmin() bool { return a.role() == db.RoleAdmin }

func (a roomAccess) isModerator() bool { return a.isAdmin() || a.role() == db.RoleModerator }

// access looks up a room and p's membership of it. With create, a room used for the first time
// is created as a public group room. Archived rooms are not found.
func (s *Server) access(ctx context.Context, p Principal, key string, create bool) (roomAccess, error) {
	if err := checkRoomKey("room", key); err != nil {
		return roomAccess{}, err
	}
	var (
		room db.Room
		err  error
	)
	room, err = s.db.GetRoom(ctx, key)
	if create && errors.Is(err, db.ErrNotFound) {
		if err := s.mayCreateRoom(ctx, p); err != nil {
			return roomAccess{}, err
		}
		room, _, err = s.db.EnsureRoom(ctx, key, p.ID)
	}
	if errors.Is(err, db.ErrNotFound) {
		return roomAccess{}, roomNotFound(key)
	}
	if err != nil {
		return roomAccess{}, err
	}
	a := roomAccess{room: room}
	m, err := s.db.GetMember(ctx, room.ID, p.ID)
	switch {
	case err == nil:
		a.member = &m
	case !errors.Is(err, db.ErrNotFound):
		return roomAccess{}, err
	}
	if !room.ArchivedAt.IsZero() {
		if !a.canRead() {
			return roomAccess{}, roomNotFound(key)
		}
		return roomAccess{}, notFound("room_not_found", "room %q is archived", key)
	}
	return a, nil
}

// roomNotFound is the one answer to a room that does not exist and to a private room the
// caller is not a member of, so that no answer tells the two apart.
func roomNotFound(key string) *Error {
	return notFound("room_not_found", "room %q does not exist, or is private and you are not a member", key)
}

// readable returns the room if p may read it: any public room, or a private one p is a member of.
// A private room p may not read answers like one that does not exist — except where the request
// would have created the room (create), which says the key is taken anyway: 403.
func (s *Server) readable(ctx context.Context, p Principal, key string, create bool) (roomAccess, error) {
	a, err := s.access(ctx, p, key, create)
	if err != nil {
		return a, err
	}
	if !a.canRead() {
		if !create {
			return a, roomNotFound(key)
		}
		return a, forbidden("room %q is private: only its members may read it", key)
	}
	return a, nil
}

// mayCreateRoom takes one room creation from p's allowance: its rate, and how many rooms it
// may have created and not archived.
func (s *Server) mayCreateRoom(ctx context.Context, p Principal) error {
	if err := s.limit(actRoom, p.ID, ""); err != nil {
		return err
	}
	n, err := s.db.CountRoomsCreatedBy(ctx, p.ID)
	if err != nil {
		return err
	}
	if max := s.cfg.Limits.MaxRoomsPerUser; n >= max {
		return &Error{Status: http.StatusForbidden, Code: "too_many_rooms",
			Message: fmt.Sprintf("you have created %d rooms, the most one user may have; archive one to create another", max)}
	}
	return nil
}
