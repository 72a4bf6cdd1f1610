package db

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// Member is a user's membership of a room.
type Member struct {
	bun.BaseModel `bun:"table:chat_room_members,alias:mem"`
	RoomID        string    `bun:"room_id,pk"`
	UserID        string    `bun:"user_id,pk"`
	Role          string    `bun:"role"`
	JoinedAt      time.Time `bun:"joined_at"`
	LastReadAt    time.Time `bun:"last_read_at,nullzero"`
	LastReadSeq   uint64    `bun:"last_read_seq"`

	UserName string `bun:"user_name,scanonly"`
}

// Member roles.
const (
	RoleAdmin     = "admin"
	RoleModerator = "moderator"
	RoleMember    = "member"
)

// GetMember returns userID's membership of a room, or ErrNotFound. It may be up to cacheTTL old
// when another node changed it; read state (LastReadSeq) is not to be taken from it.
func (d *DB) GetMember(ctx context.Context, roomID, userID string) (Member, error) {
	k := memberKey{roomID, userID}
	if m, err, ok := d.members.get(k); ok {
		return m, err
	}
	gen := d.members.generation()
	var m Member
	err := mapErr(d.bun.NewSelect().Model(&m).Where("room_id = ? AND user_id = ?", roomID, userID).Scan(ctx))
	if err == nil || errors.Is(err, ErrNotFound) {
		d.members.put(k, m, err, gen)
	}
	return m, err
}

// ListMembers returns a room's members with their names.
func (d *DB) ListMembers(ctx context.Context, roomID string) ([]Member, error) {
	var ms []Member
	err := d.bun.NewSelect().Model(&ms).ColumnExpr("mem.*").ColumnExpr("u.name AS user_name").
		Join("JOIN users AS u ON u.id = mem.user_id").
		Where("mem.room_id = ?", roomID).OrderExpr("mem.joined_at").Scan(ctx)
	return ms, mapErr(err)
}

// AddMember makes userID a member of a room with role, or changes its role, and stores the
// events built for the outcome. created reports whether the user was not a member before.
// Events are built by the caller from created, since a new member and a role change are told
// differently.
func (d *DB) AddMember(ctx context.Context, roomID, userID, role string,
	events func(created bool) []Event) (m Member, created bool, evs []Appended, err error) {
	defer d.members.forget(memberKey{roomID, userID})
	err = d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := ensureUser(ctx, tx, userID); err != nil {
			return err
		}
		// Insert first: concurrent first posts by one user must not both try to create the
		// membership (a SELECT … FOR UPDATE locks nothing while the row does not exist).
		m = Member{RoomID: roomID, UserID: userID, Role: role, JoinedAt: now()}
		res, err := tx.NewInsert().Model(&m).On("CONFLICT (room_id, user_id) DO NOTHING").Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			created = true
		} else {
			if err := forUpdate(tx.NewSelect().Model(&m).Where("room_id = ? AND user_id = ?", roomID, userID), d.kind).Scan(ctx); err != nil {
				return mapErr(err)
			}
			if m.Role == role {
				return nil // nothing changes; nothing to tell
			}
			m.Role = role
			if _, err := tx.NewUpdate().Model(&m).Column("role").WherePK().Exec(ctx); err != nil {
				return mapErr(err)
			}
		}
		evs, err = d.appendEvents(ctx, tx, events(created))
		return err
	})
	return m, created, evs, mapErr(err)
}

// RemoveMember ends userID's membership of a room and stores events with it; ErrNotFound when
// it was not a member.
func (d *DB) RemoveMember(ctx context.Context, roomID, userID string, events ...Event) ([]Appended, error) {
	defer d.members.forget(memberKey{roomID, userID})
	return d.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*Member)(nil)).Where("room_id = ? AND user_id = ?", roomID, userID).Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	}, events...)
}

// MarkRead moves a member's read position forward to msg, read at readAt, and stores events
// with it. moved is false, and nothing is stored, when the member had already read that far.
func (d *DB) MarkRead(ctx context.Context, roomID, userID string, msg Message, readAt time.Time, events ...Event) (moved bool, evs []Appended, err error) {
	defer d.members.forget(memberKey{roomID, userID})
	err = d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Member)(nil)).
			Set("last_read_seq = ?", msg.Seq).Set("last_read_at = ?", readAt.UTC().Truncate(time.Microsecond)).
			Where("room_id = ? AND user_id = ? AND last_read_seq < ?", roomID, userID, msg.Seq).Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		moved = true
		evs, err = d.appendEvents(ctx, tx, events)
		return err
	})
	return moved, evs, mapErr(err)
}

// ensureUser creates a placeholder user row for an id not seen yet (a member added before
// they ever connected); their token fills in the name later.
func ensureUser(ctx context.Context, tx bun.IDB, userID string) error {
	t := now()
	_, err := tx.NewInsert().Model(&User{ID: userID, Roles: []string{}, CreatedAt: t, UpdatedAt: t}).
		On("CONFLICT (id) DO NOTHING").Exec(ctx)
	return mapErr(err)
}

// forUpdate locks the selected rows on PostgreSQL; SQLite's write transactions are already
// exclusive.
func forUpdate(q *bun.SelectQuery, kind Kind) *bun.SelectQuery {
	if kind == Postgres {
		return q.For("UPDATE")
	}
	return q
}
