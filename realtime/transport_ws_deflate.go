package realtime

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"sync"
)

// WebSocket compression (permessage-deflate, RFC 7692, without context takeover) that keeps
// encode-once fan-out. An event's envelope differs between connections only in its start —
// `{"id":"<cursor>",` or just `{` — so the rest is compressed once per frame and shared, and a
// connection's message is its start in a stored (uncompressed) deflate block followed by the
// shared blocks. A stored block ends on a byte boundary and the shared blocks refer to nothing
// before them, so the two make one valid deflate stream; no connection holds compressor state.

// deflateThreshold is the smallest envelope sent compressed: below it, compression saves
// little and costs the receiver an inflate.
const deflateThreshold = 256

// deflateOnce is a frame's envelope after its first byte, compressed once, on first use.
type deflateOnce struct {
	once sync.Once
	b    []byte
}

// deflatedRest returns f's envelope after its first byte, compressed.
func (f *Frame) deflatedRest() []byte {
	f.deflate.once.Do(func() { f.deflate.b = deflateRest(f.Payload) })
	return f.deflate.b
}

// flateWriters are reused: a writer holds several hundred KiB of tables.
var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // once per event, on the publish path
	return w
}}

// deflateRest compresses payload after its first byte as deflate blocks that end with a sync
// flush, less the flush's last four bytes (00 00 ff ff), which receivers add back (RFC 7692).
func deflateRest(payload []byte) []byte {
	var b bytes.Buffer
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(&b)
	w.Write(payload[1:])
	w.Flush()
	flateWriters.Put(w)
	out := b.Bytes()
	return out[:len(out)-4]
}

// appendDeflated appends m's envelope compressed, as the payload of a permessage-deflate message.
func (m Message) appendDeflated(dst []byte) []byte {
	var rest []byte
	if m.frame != nil {
		rest = m.frame.deflatedRest()
	} else {
		rest = deflateRest(m.Payload) // a message of this connection alone
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, '{') // a stored block: BFINAL 0, BTYPE 00, LEN, NLEN
	if len(m.Cursor) > 0 {
		dst = append(dst, `"id":"`...)
		dst = append(dst, m.Cursor...)
		dst = append(dst, `",`...)
	}
	n := uint16(len(dst) - start - 5)
	binary.LittleEndian.PutUint16(dst[start+1:], n)
	binary.LittleEndian.PutUint16(dst[start+3:], ^n)
	return append(dst, rest...)
}
