package api_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/db"
)

// A WebSocket client that offers permessage-deflate gets it (without context takeover), and
// events of 256 bytes and more arrive compressed — RSV1 set on the wire — decoding to the same
// envelopes an uncompressed client gets; small ones arrive as they are. A server with
// compression off does not negotiate it.
func TestWebSocketCompressionDecodesToTheSameEvents(t *testing.T) {
	e := newEnv(t, db.SQLite)
	alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
	raw := dialRawWS(t, e.base, alice, true)
	if !strings.Contains(raw.extensions, "permessage-deflate") || !strings.Contains(raw.extensions, "server_no_context_takeover") {
		t.Fatalf("Sec-WebSocket-Extensions %q", raw.extensions)
	}
	plain := e.dialWS(bob, "rooms=general")
	raw.next(t, "connected")
	e.post(bob, "general", strings.Repeat("a long message that compresses well; ", 20))
	e.post(bob, "general", "short, but its envelope is over 256 bytes")
	for range 2 {
		got, compressed := raw.next(t, "chat_message")
		ref := nextOf(t, plain, "chat_message")
		if !compressed {
			t.Errorf("a chat message arrived uncompressed: %s", got.Data)
		}
		if !bytes.Equal(got.Data, ref.Data) || got.TS != ref.TS || got.Room != ref.Room || got.ID == "" {
			t.Errorf("compressed client got %+v, uncompressed %+v", got, ref)
		}
	}
	e.mustDo(http.StatusNoContent, "POST", "/api/rooms/general/typing", bob, map[string]bool{"typing": true})
	if got, compressed := raw.next(t, "user_typing_start"); compressed {
		t.Errorf("a small event (%d bytes of data) arrived compressed", len(got.Data))
	}

	off := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.DisableWSCompression = true }))
	if ext := dialRawWS(t, off.base, off.token("alice", "Alice"), true).extensions; ext != "" {
		t.Fatalf("with compression off the server answered Sec-WebSocket-Extensions %q", ext)
	}
}

// rawWS reads a WebSocket frame by frame, to see what is on the wire.
type rawWS struct {
	r          *bufio.Reader
	extensions string
}

func dialRawWS(t *testing.T, base, token string, offerDeflate bool) *rawWS {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req, _ := http.NewRequest("GET", base+"/ws?rooms=general&access_token="+token, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if offerDeflate {
		req.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
	}
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	res, err := http.ReadResponse(r, req)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", err, res)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	return &rawWS{r: r, extensions: res.Header.Get("Sec-WebSocket-Extensions")}
}

// next returns the next event of type typ, decoded, and whether its frame was compressed.
func (w *rawWS) next(t *testing.T, typ string) (envelope, bool) {
	t.Helper()
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			t.Fatal(err)
		}
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			io.ReadFull(w.r, b[:])
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			io.ReadFull(w.r, b[:])
			n = binary.BigEndian.Uint64(b[:])
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(w.r, payload); err != nil {
			t.Fatal(err)
		}
		if h[0]&0x0f != 1 { // a control frame
			continue
		}
		compressed := h[0]&0x40 != 0
		if compressed {
			var err error
			payload, err = io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(payload), strings.NewReader("\x00\x00\xff\xff"))))
			if err != nil && err != io.ErrUnexpectedEOF {
				t.Fatalf("inflating a frame: %v", err)
			}
		}
		var ev envelope
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatalf("frame %q: %v", payload, err)
		}
		if ev.Type == typ {
			return ev, compressed
		}
	}
}

// A long-poll answer goes out gzip-compressed when the request accepts it and it is large
// enough to gain from it; as it is otherwise.
func TestLongPollAnswersAreGzipped(t *testing.T) {
	e := newEnv(t, db.SQLite)
	alice := e.token("alice", "Alice")
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}} // see the encoding as sent
	poll := func(query string, gzip bool) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.base+"/poll?timeout=0&"+query, nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	var first struct {
		Cursor       string `json:"cursor"`
		ConnectionID string `json:"connection_id"`
	}
	res, body := poll("rooms=general", true)
	if res.Header.Get("Content-Encoding") != "" {
		t.Fatalf("a %d-byte answer was compressed", len(body))
	}
	decode(t, body, &first)
	for i := range 10 {
		e.post(alice, "general", strings.Repeat("x", 100)+string(rune('a'+i)))
	}
	q := "connection_id=" + first.ConnectionID + "&cursor=" + first.Cursor
	res, body = poll(q, true)
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("Content-Encoding %q, Vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	var answer struct{ Events []envelope }
	decode(t, plain, &answer)
	if n := len(answer.Events); n < 10 {
		t.Fatalf("the gzipped answer holds %d events, want the 10 messages", n)
	}
	t.Logf("a long-poll answer of %d bytes went out as %d", len(plain), len(body))
	if res, _ := poll("cursor="+first.Cursor+"&connection_id="+first.ConnectionID, false); res.Header.Get("Content-Encoding") != "" {
		t.Fatal("an answer to a request that accepts no gzip was compressed")
	}
}
