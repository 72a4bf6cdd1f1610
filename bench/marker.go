package main

import (
	"bytes"
	"strconv"
)

// A marker rides in every message the generator sends: "#sb|<index>|<send time, unix ns>|".
// Receivers find it with one byte search in the raw envelope, without decoding JSON, so a
// delivery costs the generator little. It needs no JSON escaping and survives every transport.
var markerPrefix = []byte("#sb|")

// maxChatChars is the server's limit on chat message content.
const maxChatChars = 1000

// appendMarker appends the marker of message idx sent at sentNs.
func appendMarker(b []byte, idx, sentNs int64) []byte {
	b = append(b, markerPrefix...)
	b = strconv.AppendInt(b, idx, 10)
	b = append(b, '|')
	b = strconv.AppendInt(b, sentNs, 10)
	return append(b, '|')
}

// findMarker extracts the index and send time from a payload carrying a marker.
func findMarker(p []byte) (idx, sentNs int64, ok bool) {
	i := bytes.Index(p, markerPrefix)
	if i < 0 {
		return 0, 0, false
	}
	p = p[i+len(markerPrefix):]
	idx, p, ok = leadingInt(p)
	if !ok || len(p) == 0 || p[0] != '|' {
		return 0, 0, false
	}
	sentNs, p, ok = leadingInt(p[1:])
	if !ok || len(p) == 0 || p[0] != '|' {
		return 0, 0, false
	}
	return idx, sentNs, true
}

func leadingInt(p []byte) (int64, []byte, bool) {
	var v int64
	i := 0
	for ; i < len(p) && i < 19 && p[i] >= '0' && p[i] <= '9'; i++ {
		v = v*10 + int64(p[i]-'0')
	}
	return v, p[i:], i > 0
}

// padTo appends 'x' until b is size bytes long.
func padTo(b []byte, size int) []byte {
	for len(b) < size {
		b = append(b, 'x')
	}
	return b
}
