package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/db"
	"switchboard/realtime"
)

// cursorFrom returns the resume cursor a request presents, if any: the Last-Event-ID header
// (EventSource sends it on reconnect), else the last_event_id, lastEventId (EventSource
// polyfills) or cursor query parameter.
func cursorFrom(c echo.Context) string {
	if v := c.Request().Header.Get("Last-Event-ID"); v != "" {
		return v
	}
	q := c.QueryParams()
	for _, name := range []string{"last_event_id", "lastEventId", "cursor"} {
		if v := q.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// roomsFrom parses the rooms query parameter: comma-separated room keys.
func roomsFrom(c echo.Context) ([]string, error) {
	raw := c.QueryParam("rooms")
	if raw == "" {
		return nil, nil
	}
	var rooms []string
	for key := range strings.SplitSeq(raw, ",") {
		key = strings.TrimSpace(key)
		if key == "" {
			continue
		}
		if err := checkRoomKey("rooms", key); err != nil {
			return nil, err
		}
		if !slices.Contains(rooms, key) {
			rooms = append(rooms, key)
		}
	}
	if len(rooms) > maxRoomsAtConnect {
		return nil, invalid("rooms", "at most %d rooms per connection", maxRoomsAtConnect)
	}
	return rooms, nil
}

// maxRoomsAtConnect caps the rooms one stream request may name; the hub caps subscriptions.
const maxRoomsAtConnect = 100

// connectRequest is what a stream request asks for.
type connectRequest struct {
	id        string // long-poll connections keep their id across resumes
	principal Principal
	transport realtime.Transport
	rooms     []string
	cursor    string
	expires   time.Time
}

// openConn authorizes a stream request and registers its connection: the caller's own topics,
// the rooms it names, and everything a presented cursor names, resumed where it left off.
func (s *Server) openConn(c echo.Context, req connectRequest) (*realtime.Conn, error) {
	ctx := c.Request().Context()
	p := req.principal
	if n := len(s.hub.UserConns(p.ID)); n >= s.cfg.Limits.MaxConnsPerUser {
		return nil, &Error{Status: http.StatusTooManyRequests, Code: "too_many_connections", RetryAfter: 10,
			Message: fmt.Sprintf("you already have %d live connections; close one (one stream per tab can carry every room)", n)}
	}
	if s.hub.ConnCount() >= s.cfg.Limits.MaxConns {
		return nil, unavailable("this server is at its connection limit; try again shortly", 5, nil)
	}
	plan, err := s.subscriptionsFor(ctx, p, req.cursor)
	if err != nil {
		return nil, err
	}
	subs := plan.subs
	if err := s.db.UpsertUser(ctx, dbUser(p)); err != nil {
		return nil, err
	}
	for _, key := range req.rooms {
		topic := realtime.RoomTopic(key)
		if slices.ContainsFunc(subs, func(s realtime.Subscription) bool { return s.Topic == topic }) {
			continue
		}
		if _, err := s.readable(ctx, p, key, true); err != nil {
			return nil, err
		}
		// A cursor from a replaced database cannot say what this room missed: reset it.
		subs = append(subs, realtime.Subscription{Topic: topic, Reset: plan.epochLost})
	}
	conn, err := s.hub.Connect(ctx, realtime.ConnectOptions{
		ID: req.id, User: p.User, Transport: req.transport, Subscriptions: subs, Resumed: plan.resumed,
		Expires: req.expires, RemoteAddr: c.RealIP(), UserAgent: c.Request().UserAgent(),
	})
	if err != nil {
		return nil, err
	}
	for _, key := range plan.refused {
		if f, err := refusedRoomFrame(key); err == nil {
			_ = conn.Send(f)
		}
	}
	s.recheckRooms(ctx, p, conn, subs)
	s.db.RecordConnect(db.ConnRecord{ConnectionID: conn.ID(), UserID: p.ID, Transport: string(req.transport),
		RemoteAddr: c.RealIP(), UserAgent: c.Request().UserAgent(), ConnectedAt: time.Now()})
	return conn, nil
}

// recheckRooms checks again, once connected, that p may read the rooms of subs, and takes
// those it no longer may from conn (room_left, reason forbidden): a member removal, or a room
// turning private or archived, committed after the first checks took the room's subscribers
// before conn was one. A check that fails for another reason (the database) keeps the room.
func (s *Server) recheckRooms(ctx context.Context, p Principal, conn *realtime.Conn, subs []realtime.Subscription) {
	for _, sub := range subs {
		key, room := realtime.RoomOf(sub.Topic)
		if !room {
			continue
		}
		var e *Error
		if _, err := s.readable(ctx, p, key, false); errors.As(err, &e) && (e.Status == http.StatusForbidden || e.Status == http.StatusNotFound) {
			_ = s.hub.Unsubscribe(conn, sub.Topic, "forbidden")
		}
	}
}

// closeConn removes a connection whose stream ended; the hub's OnDisconnect records why.
func (s *Server) closeConn(conn *realtime.Conn) {
	conn.Close(realtime.ReasonClientGone) // unless the server closed it first, for its own reason
	s.hub.Disconnect(conn)
}

// resumePlan is what a stream request's cursor resumes.
type resumePlan struct {
	subs      []realtime.Subscription
	resumed   bool     // a cursor was presented
	epochLost bool     // it points into a log this server no longer has: everything resets
	refused   []string // rooms it names that the caller may not read (any more)
}

// subscriptionsFor returns the subscriptions of a new connection: the caller's default topics,
// fresh or resumed from the cursor, plus every other topic the cursor names once it is
// authorized again. A forged cursor grants nothing: naming another user's topic fails the
// request; a room the caller may not read is left out and reported in plan.refused, since a
// legitimate client can hold such a cursor (it was removed from the room while away).
func (s *Server) subscriptionsFor(ctx context.Context, p Principal, cursor string) (resumePlan, error) {
	defaults := realtime.DefaultTopics(p.User)
	plan := resumePlan{subs: make([]realtime.Subscription, 0, len(defaults))}
	if cursor == "" {
		for _, t := range defaults {
			plan.subs = append(plan.subs, realtime.Subscription{Topic: t})
		}
		return plan, nil
	}
	cur, err := realtime.ParseCursor(cursor)
	if err != nil {
		return plan, badRequest("invalid_cursor", "cursor", "%s; connect without one to start fresh", err.Error())
	}
	plan.resumed = true
	if cur.Epoch != s.hub.Config().Epoch {
		// The log this cursor points into is gone (the database was replaced): its topic ids
		// mean nothing here. Start fresh and tell the client to reload what it shows; rooms
		// the request names reset too (openConn).
		plan.epochLost = true
		for _, t := range defaults {
			plan.subs = append(plan.subs, realtime.Subscription{Topic: t, Reset: true})
		}
		return plan, nil
	}
	ids := make([]int64, len(cur.Positions))
	for i, pos := range cur.Positions {
		ids[i] = pos.TopicID
	}
	names, err := s.db.TopicNames(ctx, ids)
	if err != nil {
		return plan, err
	}
	for _, pos := range cur.Positions {
		name, ok := names[pos.TopicID]
		if !ok {
			return plan, badRequest("invalid_cursor", "cursor", "invalid cursor: it names a topic this server does not know")
		}
		allowed, err := s.mayResume(ctx, p, name)
		if err != nil {
			return plan, err
		}
		if !allowed {
			key, _ := realtime.RoomOf(name)
			plan.refused = append(plan.refused, key)
			continue
		}
		offset := pos.Offset
		plan.subs = append(plan.subs, realtime.Subscription{Topic: name, From: &offset})
	}
	for _, t := range defaults {
		if !slices.ContainsFunc(plan.subs, func(s realtime.Subscription) bool { return s.Topic == t }) {
			plan.subs = append(plan.subs, realtime.Subscription{Topic: t})
		}
	}
	return plan, nil
}

// refusedRoomFrame tells a resuming client that a room its cursor names was not restored:
// a room_left with reason "forbidden", as if it had been removed while away.
func refusedRoomFrame(key string) (*realtime.Frame, error) {
	data := struct {
		Room   string `json:"room"`
		Topic  string `json:"topic"`
		Reason string `json:"reason"`
	}{key, realtime.RoomTopic(key), "forbidden"}
	env, err := realtime.Event{Type: realtime.EventRoomLeft, Room: key, Data: data, TS: time.Now()}.Encode()
	return &realtime.Frame{Type: realtime.EventRoomLeft, Payload: env}, err
}

// mayResume re-authorizes one topic named in a cursor. Another user's topic is an error (a
// forged cursor); a room the caller may no longer read is quietly dropped, since a legitimate
// client can hold such a cursor.
func (s *Server) mayResume(ctx context.Context, p Principal, topic string) (bool, error) {
	if topic == realtime.TopicAll {
		return true, nil
	}
	if id, ok := realtime.UserOf(topic); ok {
		if id != p.ID {
			return false, forbidden("the cursor names another user's events")
		}
		return true, nil
	}
	if key, ok := realtime.RoomOf(topic); ok {
		_, err := s.readable(ctx, p, key, false)
		var apiErr *Error
		if errors.As(err, &apiErr) && apiErr.Status < 500 {
			return false, nil
		}
		return err == nil, err
	}
	return false, forbidden("the cursor names a topic clients cannot subscribe to")
}

func dbUser(p Principal) db.User {
	return db.User{ID: p.ID, Name: p.Name, Avatar: p.Avatar, Roles: p.Roles}
}
