package main

import (
	"context"
	"net/url"

	"github.com/r3labs/sse/v2"
	"gopkg.in/cenkalti/backoff.v1"
)

// streamSSER3 reads GET /events with r3labs/sse/v2's client, the way a third-party Go client
// would. Reconnection is the caller's (keepAlive): the library's own would retry for 15
// minutes and ignore "retry:".
func streamSSER3(ctx context.Context, t *target, s *sub) error {
	q := url.Values{}
	if s.rooms != "" {
		q.Set("rooms", s.rooms)
	}
	c := sse.NewClient(t.base + "/events?" + q.Encode())
	c.Connection = t.stream
	c.Headers["Authorization"] = "Bearer " + s.token
	c.ReconnectStrategy = &backoff.StopBackOff{}
	if len(s.cursor) > 0 {
		c.LastEventID.Store(append([]byte(nil), s.cursor...))
	}
	err := c.SubscribeRawWithContext(ctx, func(e *sse.Event) {
		s.onEvent(e.Event, e.ID, e.Data)
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err // nil: the server ended the stream
}
