package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Message is a chat message with its author and room as they are shown.
type Message struct {
	bun.BaseModel `bun:"table:chat_messages,alias:m"`
	ID            string    `bun:"id,pk"`
	RoomID        string    `bun:"room_id"`
	Seq           uint64    `bun:"seq"` // offset in the room's topic
	UserID        string    `bun:"user_id"`
	Content       string    `bun:"content"`
	ClientID      string    `bun:"client_id,nullzero"`
	CreatedAt     time.Time `bun:"created_at"`
	EditedAt      time.Time `bun:"edited_at,nullzero"`
	DeletedAt     time.Time `bun:"deleted_at,nullzero"`
	DeletedBy     string    `bun:"deleted_by,nullzero"`

	RoomKey    string `bun:"room_key,scanonly"`
	UserName   string `bun:"user_name,scanonly"`
	UserAvatar string `bun:"user_avatar,scanonly"`
}

// NewMessage is a message to post. The author must have been upserted.
type NewMessage struct {
	Room       Room
	Topic      string // the room's topic, where the chat_message event goes
	UserID     string
	UserName   string
	UserAvatar string
	Content    string
	ClientID   string // idempotency key; a repeat returns the first message
}

// ErrClientIDReused is returned when a client_id is repeated for a different room.
var ErrClientIDReused = fmt.Errorf("%w: client_id already used for a message in another room", ErrConflict)

// PostMessage stores a message and its event, committed together with whatever other messages
// of the same topic are waiting (group commit). encode builds the event's envelope from the
// message as stored. When the author already posted a message with the same client id, that
// message is returned with created false, and nothing is written. ctx bounds the lookup of a
// repeated client id, not the commit: a queued message's outcome is always returned.
func (d *DB) PostMessage(ctx context.Context, nm NewMessage, eventType string,
	encode func(Message) ([]byte, error)) (msg Message, ev Appended, created bool, err error) {
	if nm.ClientID != "" {
		if msg, err = d.messageByClientID(ctx, nm); !errors.Is(err, ErrNotFound) {
			return msg, Appended{}, false, err
		}
	}
	r := &postRequest{nm: nm, typ: eventType, encode: encode, done: make(chan postResult, 1)}
	d.enqueuePost(r)
	// Once queued, the outcome is waited for whatever ctx says (a batch gives up after 30 s):
	// a message committed after its caller had left would otherwise be announced to no one
	// on this node, and a retry with its client_id would find it stored, with no event.
	res := <-r.done
	if errors.Is(res.err, ErrConflict) && nm.ClientID != "" {
		msg, err = d.messageByClientID(ctx, nm) // a concurrent retry won the race
		return msg, Appended{}, false, err
	}
	if res.err != nil {
		return Message{}, Appended{}, false, res.err
	}
	return res.msg, res.ev, true, nil
}

func (d *DB) messageByClientID(ctx context.Context, nm NewMessage) (Message, error) {
	var m Message
	err := d.selectMessages().Where("m.user_id = ? AND m.client_id = ?", nm.UserID, nm.ClientID).Scan(ctx, &m)
	if err != nil {
		return Message{}, mapErr(err)
	}
	if m.RoomID != nm.Room.ID {
		return Message{}, ErrClientIDReused
	}
	return m, nil
}

func (d *DB) selectMessages() *bun.SelectQuery {
	return d.bun.NewSelect().Model((*Message)(nil)).
		ColumnExpr("m.*").
		ColumnExpr("r.key AS room_key").
		ColumnExpr("u.name AS user_name").
		ColumnExpr("u.avatar AS user_avatar").
		Join("JOIN chat_rooms AS r ON r.id = m.room_id").
		Join("JOIN users AS u ON u.id = m.user_id")
}

// ErrBadCursor is returned for a history position that is not a message of the room.
var ErrBadCursor = errors.New("before is not a message of this room")

// History returns up to limit messages of a room, newest first, older than the message with id
// before (when given). more reports whether older messages remain.
func (d *DB) History(ctx context.Context, room Room, before string, limit int) (msgs []Message, more bool, err error) {
	q := d.selectMessages().Where("m.room_id = ?", room.ID).Where("m.deleted_at IS NULL")
	if before != "" {
		var seq uint64
		err := d.bun.NewRaw("SELECT seq FROM chat_messages WHERE id = ? AND room_id = ?", before, room.ID).Scan(ctx, &seq)
		if errors.Is(mapErr(err), ErrNotFound) {
			return nil, false, ErrBadCursor
		}
		if err != nil {
			return nil, false, mapErr(err)
		}
		q = q.Where("m.seq < ?", seq)
	}
	if err := q.OrderExpr("m.seq DESC").Limit(int64(limit+1)).Scan(ctx, &msgs); err != nil {
		return nil, false, mapErr(err)
	}
	if len(msgs) > limit {
		return msgs[:limit], true, nil
	}
	return msgs, false, nil
}

// GetMessage returns a message of a room that is not deleted, or ErrNotFound.
func (d *DB) GetMessage(ctx context.Context, room Room, id string) (Message, error) {
	var m Message
	err := d.selectMessages().Where("m.id = ? AND m.room_id = ? AND m.deleted_at IS NULL", id, room.ID).Scan(ctx, &m)
	return m, mapErr(err)
}

// EditMessage replaces a message's content, sets edited_at, and stores the event encode
// builds from the edited message.
func (d *DB) EditMessage(ctx context.Context, m Message, content, topic, eventType string,
	encode func(Message) ([]byte, error)) (Message, []Appended, error) {
	m.Content, m.EditedAt = content, now()
	envelope, err := encode(m)
	if err != nil {
		return Message{}, nil, err
	}
	evs, err := d.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model(&m).Column("content", "edited_at").WherePK().Where("deleted_at IS NULL").Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound // deleted meanwhile
		}
		return nil
	}, Event{Topic: topic, Type: eventType, Envelope: envelope})
	return m, evs, err
}

// DeleteMessage marks a message deleted by a user and stores events with it.
func (d *DB) DeleteMessage(ctx context.Context, m Message, by string, events ...Event) ([]Appended, error) {
	m.DeletedAt, m.DeletedBy = now(), by
	return d.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model(&m).Column("deleted_at", "deleted_by").WherePK().Where("deleted_at IS NULL").Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	}, events...)
}
