package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"switchboard/db"
	"switchboard/realtime"
)

// Limits on room fields.
const (
	maxRoomNameChars    = 100
	maxDescriptionChars = 1000
	maxSettingsBytes    = 4 << 10
	maxInitialMembers   = 100
)

// roomJSON is a room on the wire.
type roomJSON struct {
	ID          string         `json:"id"`
	Key         string         `json:"key"`
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	Private     bool           `json:"private"`
	Description string         `json:"description,omitempty"`
	Settings    map[string]any `json:"settings"`
	CreatedBy   string         `json:"created_by,omitempty"`
	CreatedAt   string         `json:"created_at"`
	ArchivedAt  string         `json:"archived_at,omitempty"`

	MemberCount    *int         `json:"member_count,omitempty"`
	MyRole         *string      `json:"my_role,omitempty"`
	Unread         *int         `json:"unread_count,omitempty"`
	OnlineCount    *int         `json:"online_count,omitempty"`
	LastMessage    *messageJSON `json:"last_message,omitempty"`
	LastActivityAt string       `json:"last_activity_at,omitempty"`
	DirectWith     *peerJSON    `json:"direct_with,omitempty"`
}

// peerJSON is, in a direct room, the other of its two users as the caller sees it.
type peerJSON struct {
	UserID     string `json:"user_id"`
	UserName   string `json:"user_name"`
	UserAvatar string `json:"user_avatar,omitempty"`
}

func toRoomJSON(r db.Room) roomJSON {
	out := roomJSON{ID: r.ID, Key: r.Key, Name: r.Name, Type: r.Type, Private: r.Private, Description: r.Description,
		Settings: r.Settings, CreatedBy: r.CreatedBy, CreatedAt: wireTime(r.CreatedAt)}
	if out.Settings == nil {
		out.Settings = map[string]any{}
	}
	if !r.ArchivedAt.IsZero() {
		out.ArchivedAt = wireTime(r.ArchivedAt)
	}
	return out
}

func (s *Server) toSummaryJSON(r db.RoomSummary) roomJSON {
	out := toRoomJSON(r.Room)
	online := s.hub.OnlineCount(r.Key)
	out.MemberCount, out.MyRole, out.Unread, out.OnlineCount = &r.MemberCount, &r.MyRole, &r.Unread, &online
	if r.LastMessage != nil {
		m := toMessageJSON(*r.LastMessage)
		out.LastMessage = &m
	}
	out.LastActivityAt = wireTime(r.LastActivity())
	if r.Peer.ID != "" {
		out.DirectWith = &peerJSON{UserID: r.Peer.ID, UserName: r.Peer.Name, UserAvatar: r.Peer.Avatar}
	}
	return out
}

// roomFields are the editable fields of a room, as a client sends them.
type roomFields struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	Private     *bool           `json:"private"`
	Settings    json.RawMessage `json:"settings"`
}

// check validates the fields that are present and returns the decoded settings.
func (f roomFields) check() (map[string]any, error) {
	if f.Name != nil {
		name := strings.TrimSpace(*f.Name)
		if name == "" || utf8.RuneCountInString(name) > maxRoomNameChars {
			return nil, invalid("name", "name must be 1–%d characters", maxRoomNameChars)
		}
		*f.Name = name
	}
	if f.Description != nil && utf8.RuneCountInString(*f.Description) > maxDescriptionChars {
		return nil, invalid("description", "description must be at most %d characters", maxDescriptionChars)
	}
	if len(f.Settings) == 0 || string(f.Settings) == "null" {
		return nil, nil
	}
	if len(f.Settings) > maxSettingsBytes {
		return nil, invalid("settings", "settings must be at most %d bytes of JSON", maxSettingsBytes)
	}
	var settings map[string]any
	if err := json.Unmarshal(f.Settings, &settings); err != nil {
		return nil, invalid("settings", "settings must be a JSON object")
	}
	return settings, nil
}

// handleCreateRoom serves POST /api/rooms {key?, name, type, private?, description?, settings?,
// members?}. The creator becomes its admin. A direct room is private, between the creator and
// the one user in members, and unique per pair: creating it again returns it. A room the
// caller created by naming its key (which has no admin) is claimed: 200 with its new fields.
// Creations count against the caller's room allowance (mayCreateRoom).
func (s *Server) handleCreateRoom(c echo.Context) error {
	var body struct {
		roomFields
		Key     string   `json:"key"`
		Type    string   `json:"type"`
		Members []string `json:"members"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	p := principal(c)
	if body.Type == "" {
		body.Type = db.RoomGroup
	}
	switch body.Type {
	case db.RoomGroup, db.RoomSupport:
		if body.Name == nil {
			return invalid("name", "name is required")
		}
	case db.RoomDirect:
		others := slices.DeleteFunc(slices.Clone(body.Members), func(id string) bool { return id == p.ID })
		if len(others) != 1 {
			return invalid("members", "a direct room needs exactly one other user in members")
		}
		body.Members = others
		if body.Name == nil {
			name := p.ID + ", " + others[0]
			body.Name = &name
		}
		private := true
		body.Private = &private
	default:
		return invalid("type", "type must be group, direct or support")
	}
	settings, err := body.check()
	if err != nil {
		return err
	}
	if len(body.Members) > maxInitialMembers {
		return invalid("members", "at most %d members at creation", maxInitialMembers)
	}
	for _, id := range body.Members {
		if err := checkUserID("members", id); err != nil {
			return err
		}
	}
	room := db.Room{Name: *body.Name, Type: body.Type, Settings: settings, CreatedBy: p.ID}
	if body.Private != nil {
		room.Private = *body.Private
	}
	if body.Description != nil {
		room.Description = *body.Description
	}
	if body.Type == db.RoomDirect {
		room.DirectPair = db.DirectPair(p.ID, body.Members[0])
		room.Key = directKey(room.DirectPair)
	} else if room.Key = body.Key; room.Key == "" {
		room.Key = keyFromName(room.Name)
	}
	if err := checkRoomKey("key", room.Key); err != nil {
		return err
	}
	members := map[string]string{p.ID: db.RoleAdmin}
	for _, id := range body.Members {
		if _, ok := members[id]; !ok {
			members[id] = db.RoleMember
			if body.Type == db.RoomDirect {
				members[id] = db.RoleAdmin
			}
		}
	}
	ctx := c.Request().Context()
	if err := s.db.UpsertUser(ctx, dbUser(p)); err != nil {
		return err
	}
	existing, err := s.db.GetRoom(ctx, room.Key)
	if err == nil {
		return s.createExisting(c, existing, room, members)
	}
	if !errors.Is(err, db.ErrNotFound) {
		return err
	}
	if err := s.mayCreateRoom(ctx, p); err != nil {
		return err
	}
	// room_created goes to everyone for a public room, to its members for a private one.
	visibleTo := []string{realtime.TopicAll}
	if room.Private {
		visibleTo = visibleTo[:0]
		for id := range members {
			visibleTo = append(visibleTo, realtime.UserTopic(id))
		}
	}
	created, evs, err := s.db.CreateRoom(ctx, db.NewRoom{Room: room, Members: members}, func(r db.Room) ([]db.Event, error) {
		var events []db.Event
		for _, topic := range visibleTo {
			ev, err := newEvent(topic, realtime.EventRoomCreated, r.Key, toRoomJSON(r))
			if err != nil {
				return nil, err
			}
			events = append(events, ev)
		}
		return events, nil
	})
	if errors.Is(err, db.ErrDirectExists) { // created concurrently
		if err := s.restoreDirectMembers(ctx, created, members, p.ID); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, toRoomJSON(created))
	}
	if errors.Is(err, db.ErrConflict) {
		return errRoomExists(room.Key)
	}
	if err != nil {
		return err
	}
	s.publish(evs...)
	out := toRoomJSON(created)
	admin := db.RoleAdmin
	out.MyRole = &admin
	return c.JSON(http.StatusCreated, out)
}

// createExisting answers a POST /api/rooms naming the key of a room that exists: a direct
// room is returned (with both its members), a room without an admin that p created by naming
// it is claimed, anything else is a conflict.
func (s *Server) createExisting(c echo.Context, existing, want db.Room, members map[string]string) error {
	p := principal(c)
	switch {
	case want.Type == db.RoomDirect && existing.DirectPair == want.DirectPair:
		if err := s.restoreDirectMembers(c.Request().Context(), existing, members, p.ID); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, toRoomJSON(existing))
	case want.Type != db.RoomDirect && existing.Type != db.RoomDirect && existing.ArchivedAt.IsZero() && existing.CreatedBy == p.ID:
		return s.claimRoom(c, existing, want, members)
	}
	return errRoomExists(want.Key)
}

func errRoomExists(key string) *Error {
	return &Error{Status: http.StatusConflict, Code: "room_exists", Field: "key",
		Message: "a room with key " + quote(key) + " already exists"}
}

// claimRoom gives a room its creator made by naming it — which has no admin — the fields and
// members of a POST /api/rooms, its creator as admin: room_updated to the room, room_created
// to the members of a room that is private now.
func (s *Server) claimRoom(c echo.Context, existing, want db.Room, members map[string]string) error {
	patch := db.RoomPatch{Name: &want.Name, Description: &want.Description, Private: &want.Private, Settings: want.Settings}
	before, after, evs, err := s.db.ClaimRoom(c.Request().Context(), existing.ID, want.Type, patch, members,
		func(before, after db.Room) ([]db.Event, error) {
			updated, err := newEvent(realtime.RoomTopic(after.Key), realtime.EventRoomUpdated, after.Key, toRoomJSON(after))
			events := []db.Event{updated}
			for id := range members {
				if err != nil || !after.Private {
					break
				}
				var visible db.Event
				visible, err = newEvent(realtime.UserTopic(id), realtime.EventRoomCreated, after.Key, toRoomJSON(after))
				events = append(events, visible)
			}
			return events, err
		})
	if errors.Is(err, db.ErrHasAdmin) {
		return errRoomExists(want.Key)
	}
	if err != nil {
		return err
	}
	s.publish(evs...)
	if after.Private && !before.Private {
		if err := s.evictNonMembers(c, after); err != nil {
			return err
		}
	}
	out := toRoomJSON(after)
	admin := db.RoleAdmin
	out.MyRole = &admin
	return c.JSON(http.StatusOK, out)
}

// restoreDirectMembers makes sure a direct room that is created again has both its users as
// its admins, whatever happened to it before direct rooms were closed to membership changes.
func (s *Server) restoreDirectMembers(ctx context.Context, room db.Room, members map[string]string, by string) error {
	for id := range members {
		m, err := s.db.GetMember(ctx, room.ID, id)
		if err == nil && m.Role == db.RoleAdmin {
			continue
		}
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
		if _, err := s.addMember(ctx, roomAccess{room: room}, id, db.RoleAdmin, by); err != nil {
			return err
		}
	}
	return nil
}

// keyFromName derives a room key from a display name: lower-case letters and digits, other
// runs as '-'; a name with none of those gets a random key.
func keyFromName(name string) string {
	key := demoUserID(name)
	var b strings.Builder
	for _, r := range key {
		if r < 128 && validRoomKey(string(r)) {
			b.WriteRune(r)
		}
	}
	key = strings.Trim(b.String(), "-")
	if len(key) > maxRoomKeyLen {
		key = key[:maxRoomKeyLen]
	}
	if key == "" {
		var r [6]byte
		rand.Read(r[:])
		key = "room-" + hex.EncodeToString(r[:])
	}
	return key
}

// directKey is the key of the direct room of a pair: stable, and free of whatever characters
// user ids may contain.
func directKey(pair string) string {
	sum := sha256.Sum256([]byte(pair))
	return "dm-" + hex.EncodeToString(sum[:12])
}

// handleListRooms serves GET /api/rooms?limit=100&cursor=…: the rooms the caller may see, with
// member count, online count, last message, last activity (the last message's time, or the
// room's creation), the caller's unread count and, in a direct room, the other user
// (direct_with) — first the rooms the caller is a member of, then the others, newest first in
// each; next_cursor while there are more.
func (s *Server) handleListRooms(c echo.Context) error {
	limit, err := pageLimit(c, 100, 500)
	if err != nil {
		return err
	}
	page, err := roomPage(c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	rooms, next, more, err := s.db.ListRooms(c.Request().Context(), principal(c).ID, page, limit)
	if err != nil {
		return err
	}
	out := struct {
		Rooms      []roomJSON `json:"rooms"`
		NextCursor string     `json:"next_cursor,omitempty"`
	}{Rooms: make([]roomJSON, len(rooms))}
	for i, r := range rooms {
		out.Rooms[i] = s.toSummaryJSON(r)
	}
	if more {
		out.NextCursor = roomCursor(next)
	}
	return c.JSON(http.StatusOK, out)
}

// roomCursor is the wire form of a page of rooms: "m." (among the caller's rooms) or "o."
// (the others) and the id of the room the page follows.
func roomCursor(p db.RoomPage) string {
	if p.Others {
		return "o." + p.After
	}
	return "m." + p.After
}

func roomPage(raw string) (db.RoomPage, error) {
	if raw == "" {
		return db.RoomPage{}, nil
	}
	section, id, _ := strings.Cut(raw, ".")
	after, err := messageID("cursor", id)
	if err != nil || (section != "m" && section != "o") {
		return db.RoomPage{}, invalid("cursor", "cursor must be the next_cursor of a previous page")
	}
	return db.RoomPage{Others: section == "o", After: after}, nil
}

// handleGetRoom serves GET /api/rooms/:room.
func (s *Server) handleGetRoom(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	a, err := s.readable(ctx, p, c.Param("room"), false)
	if err != nil {
		return err
	}
	sum, err := s.db.RoomSummaryOf(ctx, a.room, p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.toSummaryJSON(sum))
}

// handleUpdateRoom serves PATCH /api/rooms/:room {name?, description?, private?, settings?}:
// room admins only; room_updated to the room. Making a room private takes non-members' live
// connections out of it.
func (s *Server) handleUpdateRoom(c echo.Context) error {
	var body roomFields
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	settings, err := body.check()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, err := s.readable(ctx, principal(c), c.Param("room"), false)
	if err != nil {
		return err
	}
	if !a.isAdmin() {
		return forbidden("only the room's admins may change it")
	}
	if a.room.Type == db.RoomDirect && body.Private != nil && !*body.Private {
		return invalid("private", "a direct room stays private")
	}
	patch := db.RoomPatch{Name: body.Name, Description: body.Description, Private: body.Private, Settings: settings}
	before, room, evs, err := s.db.UpdateRoom(ctx, a.room.ID, patch, func(r db.Room) (db.Event, error) {
		return newEvent(realtime.RoomTopic(r.Key), realtime.EventRoomUpdated, r.Key, toRoomJSON(r))
	})
	if err != nil {
		return err
	}
	s.publish(evs...)
	if room.Private && !before.Private {
		if err := s.evictNonMembers(c, room); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, toRoomJSON(room))
}

// evictNonMembers takes the live connections of users who are not members out of a room that
// became private.
func (s *Server) evictNonMembers(c echo.Context, room db.Room) error {
	members, err := s.db.ListMembers(c.Request().Context(), room.ID)
	if err != nil {
		return err
	}
	keep := make([]string, len(members))
	for i, m := range members {
		keep[i] = m.UserID
	}
	req := controlRequest{Op: "unsubscribe", All: true, Keep: keep, Room: room.Key, Reason: "private"}
	s.unsubscribeLocal(req)
	s.tell(req)
	return nil
}

// handleArchiveRoom serves DELETE /api/rooms/:room: room admins archive it. Its history stays;
// it takes no new messages, and live connections leave it.
func (s *Server) handleArchiveRoom(c echo.Context) error {
	ctx := c.Request().Context()
	a, err := s.readable(ctx, principal(c), c.Param("room"), false)
	if err != nil {
		return err
	}
	if !a.isAdmin() {
		return forbidden("only the room's admins may archive it")
	}
	archived := a.room
	archived.ArchivedAt = time.Now().UTC()
	ev, err := newEvent(realtime.RoomTopic(a.room.Key), realtime.EventRoomUpdated, a.room.Key, toRoomJSON(archived))
	if err != nil {
		return err
	}
	_, evs, err := s.db.ArchiveRoom(ctx, a.room, ev)
	if err != nil {
		return err
	}
	s.publish(evs...)
	req := controlRequest{Op: "unsubscribe", All: true, Room: a.room.Key, Reason: "archived"}
	s.unsubscribeLocal(req)
	s.tell(req)
	return c.NoContent(http.StatusNoContent)
}
