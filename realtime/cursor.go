package realtime

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/dchest/siphash"
)

// Cursor is a connection's resume point: the event-log epoch it was issued under and, for
// every subscribed topic, the offset last delivered. It is all a server needs to restore a
// connection's subscriptions and replay what it missed, on any node, after a restart.
//
// On the wire a cursor is opaque: base64url of a version byte, the epoch, and
// (topic id delta, offset) pairs in topic-id order, all as uvarints, then a tag — a MAC of
// the user it was issued to and everything before — so that a cursor the server did not issue
// to that user is refused as a whole, never read. 64 topics fit in well under 1 KiB.
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
	cursorVersion = 2
	cursorTagLen  = 8 // a 64-bit tag, checked online: a guess succeeds once in 2⁶⁴ requests
	// MaxCursorLen bounds the cursor string a client may present.
	MaxCursorLen = 8 << 10
	// maxCursorTopics bounds the positions one cursor may name.
	maxCursorTopics = 512
)

// ErrInvalidCursor is wrapped by every cursor parsing error.
var ErrInvalidCursor = errors.New("invalid cursor")

// errNotIssued is the one answer to a cursor that fails verification, whatever it names.
var errNotIssued = fmt.Errorf("%w: not a cursor this server issued to you", ErrInvalidCursor)

// cursorSigner signs and verifies cursors with one key. It is safe for concurrent use.
type cursorSigner struct {
	k0, k1 uint64 // the SipHash key
}

func newCursorSigner(key []byte) *cursorSigner {
	sum := sha256.Sum256(key) // any length of secret makes a 128-bit key
	return &cursorSigner{k0: binary.LittleEndian.Uint64(sum[:8]), k1: binary.LittleEndian.Uint64(sum[8:16])}
}

// tag appends to dst the tag of body issued to user: SipHash-2-4 of both, a keyed function
// made for authenticating short messages, at a fifth of HMAC-SHA256's cost on every delivery.
func (s *cursorSigner) tag(dst []byte, user string, body []byte) []byte {
	var stack [512]byte
	in := binary.AppendUvarint(stack[:0], uint64(len(user)))
	in = append(append(in, user...), body...)
	return binary.LittleEndian.AppendUint64(dst, siphash.Hash(s.k0, s.k1, in))
}

// appendCursor appends the wire form of a cursor issued to user.
func (s *cursorSigner) appendCursor(dst []byte, user string, epoch uint64, pos []Position) []byte {
	var raw [binary.MaxVarintLen64*2*8 + cursorTagLen]byte
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
	buf = s.tag(buf, user, buf)
	return base64.RawURLEncoding.AppendEncode(dst, buf)
}

// parse decodes the wire form of a cursor issued to user. A cursor whose tag does not match
// is errNotIssued — except that one from another epoch is returned as just that epoch, with no
// positions, since the key it was signed with may have gone with its log and nothing else in
// it is used. Every error wraps ErrInvalidCursor and says what is wrong in words a client
// developer can act on, without revealing anything the cursor names.
func (s *cursorSigner) parse(str, user string, epoch uint64) (Cursor, error) {
	if str == "" {
		return Cursor{}, fmt.Errorf("%w: empty", ErrInvalidCursor)
	}
	if len(str) > MaxCursorLen {
		return Cursor{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidCursor, MaxCursorLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(str)
	if err != nil || len(raw) < 1+cursorTagLen || raw[0] != cursorVersion {
		return Cursor{}, errNotIssued
	}
	body, tag := raw[:len(raw)-cursorTagLen], raw[len(raw)-cursorTagLen:]
	var want [cursorTagLen]byte
	if subtle.ConstantTimeCompare(tag, s.tag(want[:0], user, body)) != 1 {
		r := cursorReader{b: body[1:]}
		if e := r.uvarint(); r.err == nil && e != epoch {
			return Cursor{Epoch: e}, nil
		}
		return Cursor{}, errNotIssued
	}
	return decodeCursor(body[1:])
}

// decodeCursor reads a verified cursor's epoch and positions.
func decodeCursor(b []byte) (Cursor, error) {
	r := cursorReader{b: b}
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

// ParseCursor decodes a cursor a client presents, issued to user by this hub or by another
// node sharing its CursorKey.
func (h *Hub) ParseCursor(s, user string) (Cursor, error) {
	return h.cursors.parse(s, user, h.cfg.Epoch)
}

// SignCursor returns the wire form of c issued to user: what this hub would have sent.
func (h *Hub) SignCursor(c Cursor, user string) string {
	return string(h.cursors.appendCursor(nil, user, c.Epoch, c.Positions))
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
