package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coder/websocket"
)

// streamWS reads GET /ws with coder/websocket, one envelope per text message, into a buffer
// reused across messages.
func streamWS(ctx context.Context, t *target, s *sub) error {
	q := url.Values{}
	if s.rooms != "" {
		q.Set("rooms", s.rooms)
	}
	if len(s.cursor) > 0 {
		q.Set("last_event_id", string(s.cursor))
	}
	u := "ws://" + t.hostport + "/ws?" + q.Encode()
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: t.stream,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + s.token}}})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return fmt.Errorf("WebSocket handshake: %s", resp.Status)
		}
		return err
	}
	defer c.CloseNow()
	c.SetReadLimit(4 << 20)
	buf := make([]byte, 0, 1024)
	for {
		typ, r, err := c.Reader(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != -1 || errors.Is(err, io.EOF) {
				return nil // the server ended the connection
			}
			return err
		}
		if buf, err = readAllInto(buf[:0], r); err != nil {
			return err
		}
		if typ != websocket.MessageText {
			continue
		}
		etyp, id := envelopeHead(buf)
		s.onEvent(etyp, id, buf)
	}
}

func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// envelopeHead returns the type and id of an envelope without decoding it. The server writes
// {"id":"…","type":"…",…} or {"type":"…",…}; anything else is decoded properly.
func envelopeHead(b []byte) (typ, id []byte) {
	rest := b
	if r, ok := bytes.CutPrefix(rest, []byte(`{"id":"`)); ok {
		i := bytes.IndexByte(r, '"')
		if i < 0 {
			return slowHead(b)
		}
		id, rest = r[:i], r[i+1:]
		if rest, ok = bytes.CutPrefix(rest, []byte(`,"type":"`)); !ok {
			return slowHead(b)
		}
	} else if rest, ok = bytes.CutPrefix(rest, []byte(`{"type":"`)); !ok {
		return slowHead(b)
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return slowHead(b)
	}
	return rest[:i], id
}

func slowHead(b []byte) (typ, id []byte) {
	var env struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if json.Unmarshal(b, &env) != nil {
		return nil, nil
	}
	return []byte(env.Type), []byte(strings.Clone(env.ID))
}
