package api

import (
	"context"
	"errors"

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
	if create {
		room, _, err = s.db.EnsureRoom(ctx, key, p.ID)
	} else {
		room, err = s.db.GetRoom(ctx, key)
	}
	if errors.Is(err, db.ErrNotFound) {
		return roomAccess{}, notFound("room_not_found", "room %q does not exist", key)
	}
	if err != nil {
		return roomAccess{}, err
	}
	if !room.ArchivedAt.IsZero() {
		return roomAccess{}, notFound("room_not_found", "room %q is archived", key)
	}
	a := roomAccess{room: room}
	m, err := s.db.GetMember(ctx, room.ID, p.ID)
	switch {
	case err == nil:
		a.member = &m
	case !errors.Is(err, db.ErrNotFound):
		return roomAccess{}, err
	}
	return a, nil
}

// readable returns the room if p may read it: any public room, or a private one p is a member of.
func (s *Server) readable(ctx context.Context, p Principal, key string, create bool) (roomAccess, error) {
	a, err := s.access(ctx, p, key, create)
	if err != nil {
		return a, err
	}
	if !a.canRead() {
		return a, forbidden("room %q is private: only its members may read it", key)
	}
	return a, nil
}
