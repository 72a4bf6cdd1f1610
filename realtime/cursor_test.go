package realtime

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

var testSigner = newCursorSigner([]byte("test key"))

// signed returns the wire form of c issued to user under testSigner.
func signed(c Cursor, user string) string {
	return string(testSigner.appendCursor(nil, user, c.Epoch, c.Positions))
}

// cursorOf parses the cursor of m, a message delivered to conn.
func cursorOf(t testing.TB, conn *Conn, m Message) Cursor {
	t.Helper()
	cur, err := conn.hub.ParseCursor(string(m.Cursor), conn.User().ID)
	if err != nil {
		t.Fatalf("cursor of %s: %v", m.Type, err)
	}
	return cur
}

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{Epoch: 1<<62 + 7, Positions: []Position{{1, 0}, {2, 17}, {900, 1 << 40}}}
	got, err := testSigner.parse(signed(c, "alice"), "alice", c.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != c.Epoch || !slices.Equal(got.Positions, c.Positions) {
		t.Fatalf("round trip: %+v, want %+v", got, c)
	}
}

// A cursor naming 64 topics stays under 1 KiB, even with large ids and offsets.
func TestCursorWith64TopicsIsSmall(t *testing.T) {
	var pos positions
	for i := range 64 {
		pos.set(int64(1_000_000+i*1_000_003), 1<<40+uint64(i))
	}
	s := signed(Cursor{Epoch: 1<<63 - 1, Positions: pos}, "alice")
	if len(s) >= 1024 {
		t.Fatalf("cursor with 64 topics is %d bytes", len(s))
	}
	t.Logf("64 topics: %d bytes", len(s))
}

// A cursor the server did not issue to this user — changed in any byte, issued to someone
// else, signed with another key, or made up — is refused whole, with one answer that names
// nothing in it.
func TestCursorsAreTamperEvident(t *testing.T) {
	c := Cursor{Epoch: 5, Positions: []Position{{4, 2}, {9, 1 << 20}}}
	valid := signed(c, "alice")
	raw, _ := base64.RawURLEncoding.DecodeString(valid)
	var forged []string
	for i := range raw {
		for _, bit := range []byte{1, 0x80} {
			b := slices.Clone(raw)
			b[i] ^= bit
			forged = append(forged, base64.RawURLEncoding.EncodeToString(b))
		}
	}
	other := newCursorSigner([]byte("another key"))
	forged = append(forged, signed(c, "bob"), string(other.appendCursor(nil, "alice", 5, c.Positions)),
		signed(c, "alice\x00"), signed(c, ""))
	for _, s := range forged {
		got, err := testSigner.parse(s, "alice", 5)
		if got.Epoch != 5 && err == nil && len(got.Positions) == 0 {
			continue // a changed epoch reads as a foreign one: nothing in it is used
		}
		if !errors.Is(err, errNotIssued) || err.Error() != errNotIssued.Error() {
			t.Errorf("forged cursor %q: %+v, %v; want %v", s, got, err, errNotIssued)
		}
	}
}

// A cursor from another epoch (the database was replaced, with the key it kept) gives its
// epoch and nothing else, signed or not.
func TestCursorOfAnotherEpochGivesOnlyItsEpoch(t *testing.T) {
	old := newCursorSigner([]byte("the replaced database's key"))
	s := string(old.appendCursor(nil, "alice", 4, []Position{{7, 3}}))
	got, err := testSigner.parse(s, "alice", 5)
	if err != nil || got.Epoch != 4 || len(got.Positions) != 0 {
		t.Fatalf("cursor of epoch 4 read in epoch 5: %+v, %v", got, err)
	}
}

func TestParseCursorRejectsGarbage(t *testing.T) {
	valid := signed(Cursor{Epoch: 5, Positions: []Position{{1, 2}}}, "alice")
	for _, s := range []string{"", "!!!", "AA", valid + "A", valid[:len(valid)-2], strings.Repeat("A", MaxCursorLen+1)} {
		if _, err := testSigner.parse(s, "alice", 5); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("parse(%.20q) = %v, want ErrInvalidCursor", s, err)
		}
	}
	// Five topic-id steps of 2⁶² add up past the largest id and wrap around to 0, 2⁶², …
	wrapping := []byte{5, 5}
	for range 5 {
		wrapping = binary.AppendUvarint(wrapping, 1<<62)
		wrapping = append(wrapping, 0) // offset
	}
	for _, b := range [][]byte{wrapping, {5, 2, 2, 0, 0, 0}, {5, 1, 1}, {5}} {
		if _, err := decodeCursor(b); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("decodeCursor(%v) = %v, want ErrInvalidCursor", b, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add(signed(Cursor{Epoch: 5, Positions: []Position{{1, 2}, {3, 4}}}, "alice"))
	f.Add("")
	f.Add("AQEBAQE")
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := testSigner.parse(s, "alice", 5); err != nil {
			if !errors.Is(err, ErrInvalidCursor) {
				t.Fatalf("error does not wrap ErrInvalidCursor: %v", err)
			}
		} else if c.Epoch == 5 {
			again, err := testSigner.parse(signed(c, "alice"), "alice", 5)
			if err != nil || !slices.Equal(again.Positions, c.Positions) {
				t.Fatalf("re-encoding %q: %+v %v", s, again, err)
			}
		}
		// What a verified cursor holds is decoded by decodeCursor: it must not trust it either.
		c, err := decodeCursor([]byte(s))
		if err != nil {
			if !errors.Is(err, ErrInvalidCursor) {
				t.Fatalf("error does not wrap ErrInvalidCursor: %v", err)
			}
			return
		}
		for i := 1; i < len(c.Positions); i++ {
			if c.Positions[i].TopicID <= c.Positions[i-1].TopicID {
				t.Fatalf("positions out of order: %v", c.Positions)
			}
		}
	})
}

func FuzzParseClientMessage(f *testing.F) {
	for _, s := range []string{`{"type":"join_room","room":"general"}`, `{"type":"chat_message","room":"a","data":{"content":"hi"}}`,
		`{"type":5}`, `[]`, `"x"`, `{"type":"ping","ref":"1"}`, `{"type":"x","data":[1]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseClientMessage(b)
		if err != nil {
			var fault *Fault
			if !errors.As(err, &fault) || fault.Code == "" || fault.Message == "" {
				t.Fatalf("error is not a complete fault: %v", err)
			}
			FaultFrame(*fault) // must encode
			return
		}
		if m.Type == "" || len(m.Ref) > maxRefLen {
			t.Fatalf("accepted %q as %+v", b, m)
		}
	})
}

func ExampleHub_ParseCursor() {
	h, _ := New(Config{Store: newMemStore(), Epoch: 42, CursorKey: []byte("shared by the cluster")})
	defer h.Close()
	s := h.SignCursor(Cursor{Epoch: 42, Positions: []Position{{TopicID: 3, Offset: 120}}}, "alice")
	back, _ := h.ParseCursor(s, "alice")
	_, err := h.ParseCursor(s, "bob")
	fmt.Println(back.Positions, err)
	// Output: [{3 120}] invalid cursor: not a cursor this server issued to you
}
