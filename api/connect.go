package api

import (
	"context"
	"errors"
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
}

// admit checks a stream request as far as it can without registering anything: that the
// server is not shutting down, a kick's block, the caller's connection limits and the cursor,
// which names nothing the caller may not resume. It returns the subscriptions the cursor
// restores.
func (s *Server) admit(ctx context.Context, req connectRequest) (resumePlan, error) {
	if s.hub.Closing() {
		return resumePlan{}, shuttingDown()
	}
	p := req.principal
	if err := s.checkBlock(p.ID); err != nil {
		return resumePlan{}, err
	}
	if n := len(s.hub.UserConns(p.ID)); n >= s.cfg.Limits.MaxConnsPerUser { // openConn takes the slot
		return resumePlan{}, tooManyConns(n)
	}
	if s.hub.ConnCount() >= s.cfg.Limits.MaxConns {
		return resumePlan{}, unavailable("this server is at its connection limit; try again shortly", 5, nil)
	}
	return s.subscriptionsFor(ctx, p, req.cursor)
}

// openConn authorizes a stream request and registers its connection: the caller's own topics,
// the rooms it names, and everything a presented cursor names, resumed where it left off. A
// named room the caller may not read does not fail the request: the connection opens without
// it and tells the client with room_left (reason forbidden, or room_not_found), as it does for
// a room its cursor names.
func (s *Server) openConn(c echo.Context, req connectRequest) (*realtime.Conn, error) {
	ctx := c.Request().Context()
	p := req.principal
	plan, err := s.admit(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.id == "" {
		req.id = realtime.NewConnID()
	}
	done, err := s.takeSlot(ctx, p, req.id)
	if err != nil {
		return nil, err
	}
	registered := false
	defer func() { done(registered) }()
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
			var e *Error
			if !errors.As(err, &e) || (e.Status != http.StatusForbidden && e.Status != http.StatusNotFound && e.Status != http.StatusTooManyRequests) {
				return nil, err
			}
			plan.refused = append(plan.refused, refusedRoom{key, e}) // private, or over the room allowance
			continue
		}
		// A cursor from a replaced database cannot say what this room missed: reset it.
		subs = append(subs, realtime.Subscription{Topic: topic, Reset: plan.epochLost})
	}
	opts := realtime.ConnectOptions{
		ID: req.id, User: p.User, Transport: req.transport, Subscriptions: subs, Resumed: plan.resumed,
		Expires: p.Expires, RemoteAddr: c.RealIP(), UserAgent: c.Request().UserAgent(),
	}
	if req.transport == realtime.TransportPoll {
		opts.PollTimeout = s.cfg.PollTimeout
	}
	conn, err := s.hub.Connect(ctx, opts)
	if err != nil {
		return nil, err
	}
	registered = true
	for _, r := range plan.refused {
		if f, err := refusedRoomFrame(r); err == nil {
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
	s.releaseSlot(conn.ID()) // before the client sees the end: its reconnect finds the slot free
}

// resumePlan is what a stream request's cursor resumes.
type resumePlan struct {
	subs      []realtime.Subscription
	resumed   bool          // a cursor was presented
	epochLost bool          // it points into a log this server no longer has: everything resets
	refused   []refusedRoom // rooms the caller may not read (any more): told with room_left
}

// refusedRoom is a room a stream request or its cursor names that the connection opens without.
type refusedRoom struct {
	key string
	why *Error // 403, 404, or 429 (room creations)
}

// subscriptionsFor returns the subscriptions of a new connection: the caller's default topics,
// fresh or resumed from the cursor, plus every other topic the cursor names once it is
// authorized again. A cursor not issued to the caller is refused whole (invalid_cursor); a
// room the caller may no longer read is left out and reported in plan.refused, since a
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
	cur, err := s.hub.ParseCursor(cursor, p.ID)
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
			plan.refused = append(plan.refused, refusedRoom{key, forbidden("room %q is private: only its members may read it", key)})
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

// refusedRoomFrame tells a client that a room its request or cursor names was not subscribed:
// a room_left whose reason is the refusal's code (forbidden, room_not_found), with its HTTP
// status and message, as if the client had been removed while away.
func refusedRoomFrame(r refusedRoom) (*realtime.Frame, error) {
	data := struct {
		Room    string `json:"room"`
		Topic   string `json:"topic"`
		Reason  string `json:"reason"`
		Status  int    `json:"status"`
		Message string `json:"message"`
	}{r.key, realtime.RoomTopic(r.key), r.why.Code, r.why.Status, r.why.Message}
	env, err := realtime.Event{Type: realtime.EventRoomLeft, Room: r.key, Data: data, TS: time.Now()}.Encode()
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
