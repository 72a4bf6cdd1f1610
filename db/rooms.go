package db

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// Room is a chat room. Key addresses it in paths and topics.
type Room struct {
	bun.BaseModel `bun:"table:chat_rooms,alias:r"`
	ID            string    `bun:"id,pk"`
	Key           string    `bun:"key"`
	Name          string    `bun:"name"`
	Type          string    `bun:"type"`
	Private       bool      `bun:"private"`
	CreatedBy     string    `bun:"created_by,nullzero"`
	CreatedAt     time.Time `bun:"created_at"`
	ArchivedAt    time.Time `bun:"archived_at,nullzero"`
}

// Room types.
const (
	RoomGroup   = "group"
	RoomDirect  = "direct"
	RoomSupport = "support"
)

// GetRoom returns the room with the given key, or ErrNotFound.
func (d *DB) GetRoom(ctx context.Context, key string) (Room, error) {
	var r Room
	err := d.bun.NewSelect().Model(&r).Where("key = ?", key).Scan(ctx)
	return r, mapErr(err)
}

// EnsureRoom returns the room with the given key, creating it as a public group room named
// after its key when it does not exist yet. created reports whether this call created it.
func (d *DB) EnsureRoom(ctx context.Context, key, createdBy string) (room Room, created bool, err error) {
	room, err = d.GetRoom(ctx, key)
	if !errors.Is(err, ErrNotFound) {
		return room, false, err
	}
	room = Room{ID: newID(), Key: key, Name: key, Type: RoomGroup, CreatedBy: createdBy, CreatedAt: now()}
	res, err := d.bun.NewInsert().Model(&room).On("CONFLICT (key) DO NOTHING").Exec(ctx)
	if err != nil {
		return Room{}, false, mapErr(err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return room, true, nil
	}
	room, err = d.GetRoom(ctx, key) // created concurrently
	return room, false, err
}
