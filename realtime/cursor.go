package realtime

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Cursor is a connection's resume point: the event-log epoch it was issued under and, for
// every subscribed topic, the offset last delivered. It is all a server needs to restore a
// connection's subscriptions and replay what it missed, on any node, after a restart.
//
// On the wire a cursor is opaque: base64url of a version byte, the epoch, and
// (topic id delta, offset) pairs in topic-id order, all as uvarints. 64 topics fit in well
// under 1 KiB.
type Cursor struct {
	Epoch     uint64
	Positions []Position // sorted by TopicID, no duplicates
}

// Position is how far a connection has read one topic.
type Position struct {
	TopicID int64
	Offset  uint64
}

const (
	cursorVersion = 1
	// MaxCursorLen bounds the cursor string a client may present.
	MaxCursorLen = 8 << 10
	// maxCursorTopics bounds the positions one cursor may name.
	maxCursorTopics = 512
)

// ErrInvalidCursor is wrapped by every ParseCursor error.
var ErrInvalidCursor = errors.New("invalid cursor")

// String returns the wire form of c.
func (c Cursor) String() string { return string(c.Append(nil)) }

// Append appends the wire form of c to dst.
func (c Cursor) Append(dst []byte) []byte {
	return appendCursor(dst, c.Epoch, c.Positions)
}

func appendCursor(dst []byte, epoch uint64, pos []Position) []byte {
	var raw [binary.MaxVarintLen64 * 2 * 8]byte
	buf := raw[:0]
	buf = append(buf, cursorVersion)
	buf = binary.AppendUvarint(buf, epoch)
	buf = binary.AppendUvarint(buf, uint64(len(pos)))
	var prev int64
	for _, p := range pos {
		buf = binary.AppendUvarint(buf, uint64(p.TopicID-prev))
		buf = binary.AppendUvarint(buf, p.Offset)
		prev = p.TopicID
	}
	return base64.RawURLEncoding.AppendEncode(dst, buf)
}

// ParseCursor decodes the wire form of a cursor. Every error wraps ErrInvalidCursor and says
// what is wrong in words a client developer can act on.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, fmt.Errorf("%w: empty", ErrInvalidCursor)
	}
	if len(s) > MaxCursorLen {
		return Cursor{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidCursor, MaxCursorLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: not a cursor issued by this server", ErrInvalidCursor)
	}
	if len(raw) == 0 || raw[0] != cursorVersion {
		return Cursor{}, fmt.Errorf("%w: unknown cursor version", ErrInvalidCursor)
	}
	r := cursorReader{b: raw[1:]}
	c := Cursor{Epoch: r.uvarint()}
	n := r.uvarint()
	if r.err == nil && n > maxCursorTopics {
		return Cursor{}, fmt.Errorf("%w: names more than %d topics", ErrInvalidCursor, maxCursorTopics)
	}
	if r.err == nil {
		c.Positions = make([]Position, 0, n)
	}
	var prev int64
	for i := uint64(0); i < n && r.err == nil; i++ {
		delta := r.uvarint()
		offset := r.uvarint()
		if delta == 0 || delta > uint64(math.MaxInt64-prev) { // ids only grow, and never wrap
			r.err = errors.New("topics out of order")
			break
		}
		prev += int64(delta)
		c.Positions = append(c.Positions, Position{TopicID: prev, Offset: offset})
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return Cursor{}, fmt.Errorf("%w: %v", ErrInvalidCursor, r.err)
	}
	return c, nil
}

type cursorReader struct {
	b   []byte
	err error
}

func (r *cursorReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("truncated")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// positions is a connection's read state: a Position per subscribed topic, sorted by TopicID.
// It is owned by the connection's consumer and never shared.
type positions []Position

func (p positions) find(topicID int64) (int, bool) {
	return slices.BinarySearchFunc(p, topicID, func(e Position, id int64) int {
		switch {
		case e.TopicID < id:
			return -1
		case e.TopicID > id:
			return 1
		}
		return 0
	})
}

// set records offset for topicID, adding the topic when absent.
func (p *positions) set(topicID int64, offset uint64) {
	i, ok := p.find(topicID)
	if ok {
		(*p)[i].Offset = offset
		return
	}
	*p = slices.Insert(*p, i, Position{TopicID: topicID, Offset: offset})
}

func (p *positions) remove(topicID int64) {
	if i, ok := p.find(topicID); ok {
		*p = slices.Delete(*p, i, i+1)
	}
}
