package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// pollAnswer is the body of GET /poll.
type pollAnswer struct {
	Events       []json.RawMessage `json:"events"`
	Cursor       string            `json:"cursor"`
	ConnectionID string            `json:"connection_id"`
	Closed       string            `json:"closed"`
}

// streamPoll long-polls GET /poll: the first request opens the connection (resuming from the
// cursor when there is one) and answers "connected" at once; each later one names the
// connection and the cursor of the answer before. It returns nil when the server closes the
// connection.
func streamPoll(ctx context.Context, t *target, s *sub) error {
	connID := ""
	for {
		q := url.Values{"timeout": {"25"}}
		if connID != "" {
			q.Set("connection_id", connID)
		} else if s.rooms != "" {
			q.Set("rooms", s.rooms)
		}
		if len(s.cursor) > 0 {
			q.Set("cursor", string(s.cursor))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/poll?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := t.poll.Do(req)
		if err != nil {
			return err
		}
		var a pollAnswer
		if resp.StatusCode != http.StatusOK {
			err := statusError(resp)
			resp.Body.Close()
			return err
		}
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("decoding a poll answer: %w", err)
		}
		for _, ev := range a.Events {
			typ, id := envelopeHead(ev)
			s.onEvent(typ, id, ev)
		}
		if a.Cursor != "" {
			s.cursor = append(s.cursor[:0], a.Cursor...)
		}
		if a.Closed != "" {
			return nil
		}
		connID = a.ConnectionID
	}
}
