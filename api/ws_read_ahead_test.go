package api_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"switchboard/db"
)

// Frames a client sends together with its handshake are read, and a message larger than the
// server's small WebSocket read buffer arrives whole: both reach the server in the one write
// below, and both are acknowledged.
func TestWebSocketFramesSentWithTheHandshakeAreRead(t *testing.T) {
	e := newEnv(t, db.SQLite)
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	long := strings.Repeat("long message ", 70) // 910 characters: the frame is beyond the 512-byte read buffer
	var out []byte
	out = fmt.Appendf(out, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
		strings.TrimPrefix(e.url, "http://"), e.token("alice", "Alice"))
	out = maskedTextFrame(out, `{"type":"join_room","room":"general","ref":"j1"}`)
	out = maskedTextFrame(out, fmt.Sprintf(`{"type":"chat_message","room":"general","ref":"m1","data":{"content":%q}}`, long))
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	r := bufio.NewReader(conn)
	for { // the 101's head
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the upgrade: %v", err)
		}
		if line == "\r\n" {
			break
		}
	}
	acked := map[string]bool{}
	for !acked["j1"] || !acked["m1"] {
		payload := readServerFrame(t, r)
		var ev struct {
			Type string `json:"type"`
			Data struct {
				Ref    string `json:"ref"`
				Result *struct {
					Content string `json:"content"`
				} `json:"result"`
			} `json:"data"`
		}
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatalf("event %q: %v", payload, err)
		}
		switch ev.Type {
		case "fault":
			t.Fatalf("the server refused an action: %s", payload)
		case "ack":
			acked[ev.Data.Ref] = true
			if ev.Data.Ref == "m1" && (ev.Data.Result == nil || ev.Data.Result.Content != long) {
				t.Fatalf("the long message was not stored whole: %s", payload)
			}
		}
	}
}

// maskedTextFrame appends one masked, final text frame holding s (RFC 6455 §5.2).
func maskedTextFrame(dst []byte, s string) []byte {
	dst = append(dst, 0x81)
	switch n := len(s); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	dst = append(dst, key[:]...)
	for i := range len(s) {
		dst = append(dst, s[i]^key[i%4])
	}
	return dst
}

// readServerFrame reads one unmasked, uncompressed frame from the server and returns its
// payload; control frames are skipped.
func readServerFrame(t *testing.T, r *bufio.Reader) []byte {
	t.Helper()
	for {
		var head [2]byte
		if _, err := io.ReadFull(r, head[:]); err != nil {
			t.Fatalf("reading a frame: %v", err)
		}
		n := uint64(head[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			io.ReadFull(r, b[:])
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			io.ReadFull(r, b[:])
			n = binary.BigEndian.Uint64(b[:])
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			t.Fatalf("reading a frame's payload: %v", err)
		}
		if head[0]&0x08 == 0 { // a data frame
			return payload
		}
	}
}
