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

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{Epoch: 1<<62 + 7, Positions: []Position{{1, 0}, {2, 17}, {900, 1 << 40}}}
	got, err := ParseCursor(c.String())
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != c.Epoch || !slices.Equal(got.Positions, c.Positions) {
		t.Fatalf("round trip: %+v, want %+v", got, c)
	}
}

// The issue's bound: a cursor naming 64 topics stays under 4 KiB, even with large ids and offsets.
func TestCursorWith64TopicsIsSmall(t *testing.T) {
	var pos positions
	for i := range 64 {
		pos.set(int64(1_000_000+i*1_000_003), 1<<40+uint64(i))
	}
	s := Cursor{Epoch: 1<<63 - 1, Positions: pos}.String()
	if len(s) >= 4096 {
		t.Fatalf("cursor with 64 topics is %d bytes", len(s))
	}
	t.Logf("64 topics: %d bytes", len(s))
}

func TestParseCursorRejectsGarbage(t *testing.T) {
	valid := Cursor{Epoch: 5, Positions: []Position{{1, 2}}}.String()
	// Five topic-id steps of 2⁶² add up past the largest id and wrap around to 0, 2⁶², …
	wrapping := []byte{cursorVersion, 1, 5}
	for range 5 {
		wrapping = binary.AppendUvarint(wrapping, 1<<62)
		wrapping = append(wrapping, 0) // offset
	}
	for _, s := range []string{"", "!!!", "AA", valid + "A", valid[:len(valid)-2], strings.Repeat("A", MaxCursorLen+1),
		Cursor{Epoch: 1, Positions: []Position{{2, 0}, {2, 0}}}.String(), base64.RawURLEncoding.EncodeToString(wrapping)} {
		if _, err := ParseCursor(s); !errors.Is(err, ErrInvalidCursor) {
			t.Errorf("ParseCursor(%.20q) = %v, want ErrInvalidCursor", s, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add(Cursor{Epoch: 5, Positions: []Position{{1, 2}, {3, 4}}}.String())
	f.Add("")
	f.Add("AQEBAQE")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
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
		again, err := ParseCursor(c.String())
		if err != nil || again.Epoch != c.Epoch || !slices.Equal(again.Positions, c.Positions) {
			t.Fatalf("re-encoding %q: %+v %v", s, again, err)
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

func ExampleCursor() {
	c := Cursor{Epoch: 42, Positions: []Position{{TopicID: 3, Offset: 120}, {TopicID: 9, Offset: 7}}}
	s := c.String()
	back, _ := ParseCursor(s)
	fmt.Println(s, back.Positions)
	// Output: ASoCA3gGBw [{3 120} {9 7}]
}
