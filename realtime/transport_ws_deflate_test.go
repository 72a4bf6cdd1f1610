package realtime

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// inflate decodes a permessage-deflate message payload the way a receiver does: the tail the
// sender left out added back, a fresh inflater (no context takeover).
func inflate(t *testing.T, msg []byte) []byte {
	t.Helper()
	out, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(msg), strings.NewReader("\x00\x00\xff\xff"))))
	if err != nil && err != io.ErrUnexpectedEOF {
		t.Fatalf("inflating: %v", err)
	}
	return out
}

// A compressed message decodes to exactly the envelope an uncompressed one carries, with or
// without a cursor, from a shared frame or on its own, whatever the payload.
func TestDeflatedMessageDecodesToTheEnvelope(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		var content strings.Builder
		for range r.IntN(3000) {
			content.WriteByte("abcdefgh {}\":,\\é"[r.IntN(16)])
		}
		env := mustEncode(Event{Type: EventChatMessage, Room: "general", Data: map[string]string{"content": content.String()}})
		cursor := []byte(nil)
		if i%2 == 0 {
			cursor = fmt.Appendf(nil, "AeLe8__A1qz7OAMBAAEAAQ%d", i)
		}
		f := &Frame{Type: EventChatMessage, Payload: env}
		for _, m := range []Message{{Type: f.Type, Payload: env, Cursor: cursor, frame: f}, {Type: f.Type, Payload: env, Cursor: cursor}} {
			want := m.AppendJSON(nil)
			if got := inflate(t, m.appendDeflated(nil)); !bytes.Equal(got, want) {
				t.Fatalf("case %d (shared frame: %v): decoded\n%q\nwant\n%q", i, m.frame != nil, got, want)
			}
		}
	}
}

// A frame is compressed once, whatever the number of connections that send it.
func TestFrameIsCompressedOnce(t *testing.T) {
	f := &Frame{Type: EventChatMessage, Payload: mustEncode(Event{Type: EventChatMessage, Data: strings.Repeat("x", 1000)})}
	first := f.deflatedRest()
	allocs := testing.AllocsPerRun(100, func() {
		_ = Message{Payload: f.Payload, Cursor: []byte("abc"), frame: f}.appendDeflated(make([]byte, 0, 2048))
	})
	if allocs > 1 || &f.deflatedRest()[0] != &first[0] {
		t.Fatalf("a second send compressed again: %.0f allocations", allocs)
	}
}
