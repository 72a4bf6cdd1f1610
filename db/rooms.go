package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Room is a chat room. Key addresses it in paths and topics.
type Room struct {
	bun.BaseModel `bun:"table:chat_rooms,alias:r"`
	ID            string         `bun:"id,pk"`
	Key           string         `bun:"key"`
	Name          string         `bun:"name"`
	Type          string         `bun:"type"`
	Private       bool           `bun:"private"`
	Description   string         `bun:"description"`
	Settings      map[string]any `bun:"settings"`
	DirectPair    string         `bun:"direct_pair,nullzero"` // direct rooms: the two user ids; see DirectPair
	CreatedBy     string         `bun:"created_by,nullzero"`
	CreatedAt     time.Time      `bun:"created_at"`
	ArchivedAt    time.Time      `bun:"archived_at,nullzero"`
}

// Room types.
const (
	RoomGroup   = "group"
	RoomDirect  = "direct"
	RoomSupport = "support"
)

// GetRoom returns the room with the given key, or ErrNotFound. It may be up to cacheTTL old when
// another node changed it.
func (d *DB) GetRoom(ctx context.Context, key string) (Room, error) {
	if r, err, ok := d.rooms.get(key); ok {
		return r, err
	}
	gen := d.rooms.generation()
	var r Room
	err := mapErr(d.bun.NewSelect().Model(&r).Where("key = ?", key).Scan(ctx))
	if err == nil || errors.Is(err, ErrNotFound) {
		d.rooms.put(key, r, err, gen)
	}
	return r, err
}

// EnsureRoom returns the room with the given key, creating it as a public group room named
// after its key when it does not exist yet. created reports whether this call created it.
func (d *DB) EnsureRoom(ctx context.Context, key, createdBy string) (room Room, created bool, err error) {
	room, err = d.GetRoom(ctx, key)
	if !errors.Is(err, ErrNotFound) {
		return room, false, err
	}
	room = Room{ID: newID(), Key: key, Name: key, Type: RoomGroup, CreatedBy: createdBy, CreatedAt: now(),
		Settings: map[string]any{}}
	res, err := d.bun.NewInsert().Model(&room).On("CONFLICT (key) DO NOTHING").Exec(ctx)
	if err != nil {
		return Room{}, false, mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		d.rooms.forget(key) // the cached "not found"; the next read fills it
		return room, true, nil
	}
	d.rooms.forget(key)             // someone else created it: the cached "not found" is wrong
	room, err = d.GetRoom(ctx, key) // created concurrently
	return room, false, err
}

// NewRoom is a room to create, with its first members.
type NewRoom struct {
	Room
	Members map[string]string // user id → role; the creator is one of them
}

// DirectPair returns the direct_pair of two users: their ids sorted, as a JSON array (which
// no pair of ids can forge, whatever characters they hold).
func DirectPair(a, b string) string {
	if b < a {
		a, b = b, a
	}
	pair, _ := json.Marshal([2]string{a, b})
	return string(pair)
}

// CreateRoom creates a room and its members, and stores the events built from the room as
// created. A key that is taken is ErrConflict; a direct room that already exists for the pair
// is ErrDirectExists, returned with that room.
func (d *DB) CreateRoom(ctx context.Context, nr NewRoom, events func(Room) ([]Event, error)) (Room, []Appended, error) {
	r := nr.Room
	r.ID, r.CreatedAt = newID(), now()
	if r.Settings == nil {
		r.Settings = map[string]any{}
	}
	var evs []Appended
	err := d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(&r).Exec(ctx); err != nil {
			return mapErr(err)
		}
		for userID, role := range nr.Members {
			if err := ensureUser(ctx, tx, userID); err != nil {
				return err
			}
			m := Member{RoomID: r.ID, UserID: userID, Role: role, JoinedAt: r.CreatedAt}
			if _, err := tx.NewInsert().Model(&m).Exec(ctx); err != nil {
				return mapErr(err)
			}
		}
		list, err := events(r)
		if err != nil {
			return err
		}
		evs, err = d.appendEvents(ctx, tx, list)
		return err
	})
	err = mapErr(err)
	d.rooms.forget(r.Key)
	if errors.Is(err, ErrConflict) && r.DirectPair != "" {
		var existing Room
		if e := d.bun.NewSelect().Model(&existing).Where("direct_pair = ?", r.DirectPair).Scan(ctx); e == nil {
			return existing, nil, ErrDirectExists
		}
	}
	return r, evs, err
}

// ErrDirectExists is returned with the existing room when a direct room is created twice.
var ErrDirectExists = fmt.Errorf("%w: a direct room for these users exists", ErrConflict)

// RoomPatch is a change to a room; nil fields stay as they are.
type RoomPatch struct {
	Name        *string
	Description *string
	Private     *bool
	Settings    map[string]any
}

// Apply returns r with the patch applied.
func (p RoomPatch) Apply(r Room) Room {
	if p.Name != nil {
		r.Name = *p.Name
	}
	if p.Description != nil {
		r.Description = *p.Description
	}
	if p.Private != nil {
		r.Private = *p.Private
	}
	if p.Settings != nil {
		r.Settings = p.Settings
	}
	return r
}

// ErrHasAdmin is ClaimRoom's answer for a room that has an admin: it is not there to claim.
var ErrHasAdmin = fmt.Errorf("%w: the room has an admin", ErrConflict)

// ClaimRoom gives a room without an admin — one created by being named, or whose admins all
// left — its fields (typ, and patch) and members (user id → role), and stores the events built
// from the result with it. The room is locked while it is checked, so that of two concurrent
// claims one wins and the other is ErrHasAdmin.
func (d *DB) ClaimRoom(ctx context.Context, id, typ string, patch RoomPatch, members map[string]string,
	events func(before, after Room) ([]Event, error)) (before, after Room, evs []Appended, err error) {
	err = d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := forUpdate(tx.NewSelect().Model(&before).Where("id = ?", id), d.kind).Scan(ctx); err != nil {
			return mapErr(err)
		}
		admins, err := tx.NewSelect().Model((*Member)(nil)).Where("room_id = ? AND role = ?", id, RoleAdmin).Count(ctx)
		if err != nil {
			return mapErr(err)
		}
		if admins > 0 {
			return ErrHasAdmin
		}
		after = patch.Apply(before)
		after.Type = typ
		if _, err := tx.NewUpdate().Model(&after).Column("name", "type", "description", "private", "settings").WherePK().Exec(ctx); err != nil {
			return mapErr(err)
		}
		for userID, role := range members {
			if err := ensureUser(ctx, tx, userID); err != nil {
				return err
			}
			m := Member{RoomID: id, UserID: userID, Role: role, JoinedAt: now()}
			if _, err := tx.NewInsert().Model(&m).On("CONFLICT (room_id, user_id) DO UPDATE").Set("role = EXCLUDED.role").Exec(ctx); err != nil {
				return mapErr(err)
			}
		}
		list, err := events(before, after)
		if err != nil {
			return err
		}
		evs, err = d.appendEvents(ctx, tx, list)
		return err
	})
	d.rooms.forget(before.Key)
	for userID := range members {
		d.members.forget(memberKey{id, userID})
	}
	return before, after, evs, mapErr(err)
}

// UpdateRoom applies patch to the room with id as it is stored — locked, so that concurrent
// patches each keep what the other changed, and a cached copy writes back nothing stale — and
// stores the event built from the result with it. It returns the room before and after.
func (d *DB) UpdateRoom(ctx context.Context, id string, patch RoomPatch,
	event func(Room) (Event, error)) (before, after Room, evs []Appended, err error) {
	err = d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := forUpdate(tx.NewSelect().Model(&before).Where("id = ?", id), d.kind).Scan(ctx); err != nil {
			return mapErr(err)
		}
		after = patch.Apply(before)
		if _, err := tx.NewUpdate().Model(&after).Column("name", "description", "private", "settings").WherePK().Exec(ctx); err != nil {
			return mapErr(err)
		}
		ev, err := event(after)
		if err != nil {
			return err
		}
		evs, err = d.appendEvents(ctx, tx, []Event{ev})
		return err
	})
	d.rooms.forget(before.Key)
	return before, after, evs, mapErr(err)
}

// ArchiveRoom marks a room archived and stores events with it.
func (d *DB) ArchiveRoom(ctx context.Context, room Room, events ...Event) (Room, []Appended, error) {
	room.ArchivedAt = now()
	defer d.rooms.forget(room.Key)
	evs, err := d.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model(&room).Column("archived_at").WherePK().Where("archived_at IS NULL").Exec(ctx)
		return err
	}, events...)
	return room, evs, err
}

// RoomSummary is a room as listed for one user.
type RoomSummary struct {
	Room        `bun:",extend"`
	MemberCount int      `bun:"member_count,scanonly"`
	MyRole      string   `bun:"my_role,scanonly"`
	Unread      int      `bun:"unread,scanonly"`
	LastMessage *Message `bun:"-"`
	// Peer is, in a direct room, the user on the other side: the one of its pair who is not
	// the user it is listed for (zero in other rooms).
	Peer User `bun:"-"`
}

// LastActivity is when the room last saw a message, or when it was created if it has none.
func (r RoomSummary) LastActivity() time.Time {
	if r.LastMessage != nil && r.LastMessage.CreatedAt.After(r.CreatedAt) {
		return r.LastMessage.CreatedAt
	}
	return r.CreatedAt
}

// RoomPage is where a page of ListRooms starts: after the room with id After (a UUIDv7, so
// ids order rooms by creation) in its section — the rooms userID is a member of come first,
// then the others. The zero RoomPage is the first page.
type RoomPage struct {
	Others bool   // the page starts among the rooms userID is not a member of
	After  string // the last room of the previous page; "" from the section's start
}

// ListRooms returns a page of at most limit rooms userID may see — public ones, and private
// ones it is a member of — with member counts, its role and unread count, and the last message
// of each: first every room userID is a member of (it posted in, joined or was added to),
// newest first, then the rest, newest first. No number of other rooms pushes a member's room
// off the first pages. next is where the following page starts; ok is false after the last.
func (d *DB) ListRooms(ctx context.Context, userID string, page RoomPage, limit int) (rooms []RoomSummary, next RoomPage, ok bool, err error) {
	if !page.Others {
		if err := d.listRoomSection(ctx, userID, true, page.After, limit+1, &rooms); err != nil {
			return nil, next, false, err
		}
		page.After = ""
	}
	if len(rooms) <= limit {
		var others []RoomSummary
		if err := d.listRoomSection(ctx, userID, false, page.After, limit+1-len(rooms), &others); err != nil {
			return nil, next, false, err
		}
		rooms = append(rooms, others...)
	}
	if ok = len(rooms) > limit; ok {
		rooms = rooms[:limit]
		last := rooms[limit-1]
		next = RoomPage{Others: last.MyRole == "", After: last.ID}
	}
	if err := d.attachLastMessages(ctx, rooms); err != nil {
		return nil, next, false, err
	}
	return rooms, next, ok, d.attachPeers(ctx, userID, rooms)
}

// listRoomSection appends to out up to limit rooms userID is (member) or is not a member of,
// after the room with id after, newest first.
func (d *DB) listRoomSection(ctx context.Context, userID string, member bool, after string, limit int, out *[]RoomSummary) error {
	q := d.summaries(userID).Where("r.archived_at IS NULL")
	if member {
		q = q.Where("me.user_id IS NOT NULL")
	} else {
		q = q.Where("me.user_id IS NULL AND r.private = ?", false)
	}
	if after != "" {
		q = q.Where("r.id < ?", after)
	}
	var rooms []RoomSummary
	if err := q.OrderExpr("r.id DESC").Limit(int64(limit)).Scan(ctx, &rooms); err != nil {
		return mapErr(err)
	}
	*out = append(*out, rooms...)
	return nil
}

// CountRoomsCreatedBy returns how many rooms userID created that are not archived.
func (d *DB) CountRoomsCreatedBy(ctx context.Context, userID string) (int, error) {
	n, err := d.bun.NewSelect().Model((*Room)(nil)).Where("created_by = ? AND archived_at IS NULL", userID).Count(ctx)
	return int(n), mapErr(err)
}

// RoomSummaryOf returns one room as userID sees it.
func (d *DB) RoomSummaryOf(ctx context.Context, room Room, userID string) (RoomSummary, error) {
	var rooms []RoomSummary
	if err := d.summaries(userID).Where("r.id = ?", room.ID).Scan(ctx, &rooms); err != nil {
		return RoomSummary{}, mapErr(err)
	}
	if len(rooms) == 0 {
		return RoomSummary{}, ErrNotFound
	}
	if err := d.attachLastMessages(ctx, rooms); err != nil {
		return RoomSummary{}, err
	}
	return rooms[0], d.attachPeers(ctx, userID, rooms)
}

func (d *DB) summaries(userID string) *bun.SelectQuery {
	return d.bun.NewSelect().Model((*Room)(nil)).
		ColumnExpr("r.*").
		ColumnExpr("(SELECT count(*) FROM chat_room_members AS m WHERE m.room_id = r.id) AS member_count").
		ColumnExpr("COALESCE(me.role, '') AS my_role").
		ColumnExpr(`CASE WHEN me.user_id IS NULL THEN 0 ELSE (SELECT count(*) FROM chat_messages AS cm
			WHERE cm.room_id = r.id AND cm.deleted_at IS NULL AND cm.user_id <> ? AND cm.seq > me.last_read_seq) END AS unread`, userID).
		Join("LEFT JOIN chat_room_members AS me ON me.room_id = r.id AND me.user_id = ?", userID)
}

func (d *DB) attachLastMessages(ctx context.Context, rooms []RoomSummary) error {
	if len(rooms) == 0 {
		return nil
	}
	ids := make([]string, len(rooms))
	for i, r := range rooms {
		ids[i] = r.ID
	}
	var last []Message
	err := d.selectMessages().
		Where("m.room_id IN (?)", bun.List(ids)).
		Where(`m.seq = (SELECT max(x.seq) FROM chat_messages AS x WHERE x.room_id = m.room_id AND x.deleted_at IS NULL)`).
		Scan(ctx, &last)
	if err != nil {
		return mapErr(err)
	}
	byRoom := make(map[string]*Message, len(last))
	for i := range last {
		byRoom[last[i].RoomID] = &last[i]
	}
	for i := range rooms {
		rooms[i].LastMessage = byRoom[rooms[i].ID]
	}
	return nil
}

// peerOf returns the other user of a direct room's pair, seen from userID; "" when the room is
// not direct or userID is not one of the pair.
func peerOf(r Room, userID string) string {
	var pair [2]string
	if r.Type != RoomDirect || json.Unmarshal([]byte(r.DirectPair), &pair) != nil {
		return ""
	}
	switch userID {
	case pair[0]:
		return pair[1]
	case pair[1]:
		return pair[0]
	}
	return ""
}

// attachPeers fills in the Peer of the direct rooms among rooms, as userID sees them: the
// other user's id and name (empty while they have never connected).
func (d *DB) attachPeers(ctx context.Context, userID string, rooms []RoomSummary) error {
	var ids []string
	for i := range rooms {
		if id := peerOf(rooms[i].Room, userID); id != "" {
			rooms[i].Peer.ID = id
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var users []User
	if err := d.bun.NewSelect().Model(&users).Column("id", "name", "avatar").Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return mapErr(err)
	}
	byID := make(map[string]User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	for i := range rooms {
		if u, ok := byID[rooms[i].Peer.ID]; ok {
			rooms[i].Peer = u
		}
	}
	return nil
}

// CountRooms counts the rooms that exist: every type, public and private, not archived.
func (d *DB) CountRooms(ctx context.Context) (int, error) {
	n, err := d.bun.NewSelect().Model((*Room)(nil)).Where("archived_at IS NULL").Count(ctx)
	return int(n), mapErr(err)
}
