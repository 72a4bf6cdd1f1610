package api

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"

	"switchboard/api/auth"
	"switchboard/db"
	"switchboard/realtime"
)

const (
	apiKeyHeader          = "X-API-Key"
	defaultPublishedType  = realtime.EventDataUpdate
	maxPublishedDataBytes = 48 << 10
)

var publishedType = regexp.MustCompile(`^[a-z][a-z0-9_.:-]{0,63}$`)

// reservedTypes are event types other servers may not publish: the server's own, and
// EventSource's, whose handlers every page has.
var reservedTypes = map[string]bool{"error": true, "open": true, "message": true}

func init() {
	for _, t := range realtime.ServerEventTypes {
		if t != realtime.EventDataUpdate { // the default type of a publish
			reservedTypes[string(t)] = true
		}
	}
}

// requirePublisher admits a request with the server API key (X-API-Key, compared in constant
// time) or a token with the publish permission.
func (s *Server) requirePublisher(next echo.HandlerFunc) echo.HandlerFunc {
	withToken := s.requireAuth(requirePermission(PermPublish)(next))
	return func(c echo.Context) error {
		key := c.Request().Header.Get(apiKeyHeader)
		if key == "" {
			return withToken(c)
		}
		if s.cfg.APIKey == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) != 1 {
			s.authFailed(c.Request().Context(), c.RealIP(), "invalid_api_key")
			return unauthorized("invalid_api_key", "the API key is not valid")
		}
		c.Set(principalKey, Principal{Principal: auth.Principal{User: realtime.User{ID: auth.APIKeyActor, Permissions: []string{PermPublish}}}, apiKey: true})
		return next(c)
	}
}

// handlePublish serves POST /api/publish {type, data, rooms?, users?, roles?}: the server API
// other backends call to push events (data_update by default) to rooms, users or roles — or
// to everyone when no target is named. Each event is durable: replayed on resume. It also
// serves POST /api/admin/publish, the admin view's publish tool: the same request from a
// signed-in holder of the publish permission, without the API key.
func (s *Server) handlePublish(c echo.Context) error {
	var body struct {
		Type  string          `json:"type"`
		Data  json.RawMessage `json:"data"`
		Rooms []string        `json:"rooms"`
		Users []string        `json:"users"`
		Roles []string        `json:"roles"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Type == "" {
		body.Type = string(defaultPublishedType)
	}
	if !publishedType.MatchString(body.Type) {
		return invalid("type", "type must be 1–64 characters of lower-case letters, digits, '_', '.', ':' or '-', starting with a letter")
	}
	if reservedTypes[body.Type] {
		return invalid("type", "%s is one of the server's own event types and cannot be published", quote(body.Type))
	}
	var data any = map[string]any{}
	if len(body.Data) > 0 && string(body.Data) != "null" {
		if len(body.Data) > maxPublishedDataBytes {
			return invalid("data", "data must be at most %d bytes of JSON", maxPublishedDataBytes)
		}
		data = body.Data
	}
	if len(body.Rooms)+len(body.Users)+len(body.Roles) > maxTargets {
		return invalid("rooms", "at most %d targets in all", maxTargets)
	}
	if p := principal(c); !p.apiKey { // the server's own key is trusted with its rate
		if err := s.limit(actMessage, p.ID, ""); err != nil {
			return err
		}
	}
	typ := realtime.EventType(body.Type)
	var events []db.Event
	for _, key := range body.Rooms {
		if err := checkRoomKey("rooms", key); err != nil {
			return err
		}
		ev, err := newEvent(realtime.RoomTopic(key), typ, key, data)
		if err != nil {
			return err
		}
		events = append(events, ev)
	}
	for _, id := range body.Users {
		if err := checkUserID("users", id); err != nil {
			return err
		}
		ev, err := newEvent(realtime.UserTopic(id), typ, "", data)
		if err != nil {
			return err
		}
		events = append(events, ev)
	}
	if err := checkRoles("roles", body.Roles); err != nil {
		return err
	}
	if len(body.Roles) > 0 || len(events) == 0 { // roles, or everyone
		ev, err := newEvent(realtime.TopicAll, typ, "", data)
		if err != nil {
			return err
		}
		ev.Audience = body.Roles
		events = append(events, ev)
	}
	ctx := c.Request().Context()
	evs, err := s.db.Append(ctx, events...)
	if err != nil {
		return err
	}
	s.publish(evs...)
	type published struct {
		Topic  string `json:"topic"`
		Offset uint64 `json:"offset"`
	}
	out := make([]published, len(evs))
	for i, ev := range evs {
		out[i] = published{ev.Topic, ev.Offset}
	}
	s.audit(ctx, principal(c).ID, "publish", body.Type, map[string]any{"rooms": body.Rooms, "users": body.Users, "roles": body.Roles})
	return c.JSON(http.StatusOK, map[string]any{"published": len(out), "events": out})
}
