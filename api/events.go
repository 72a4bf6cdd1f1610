package api

import (
	"time"

	"switchboard/db"
	"switchboard/realtime"
)

// Events as the API makes them: encoded once, stored with their offset by the database in the
// transaction that changes what they announce, and handed to the hub once committed.

// publish hands committed events to the hub.
func (s *Server) publish(evs ...db.Appended) {
	for _, ev := range evs {
		s.hub.Publish(&realtime.Frame{Topic: ev.Topic, TopicID: ev.TopicID, Offset: ev.Offset,
			Type: realtime.EventType(ev.Type), Payload: ev.Envelope, Audience: ev.Audience})
	}
}

// newEvent encodes a durable event for topic.
func newEvent(topic string, typ realtime.EventType, room string, data any) (db.Event, error) {
	env, err := realtime.Event{Type: typ, Room: room, Data: data, TS: time.Now()}.Encode()
	return db.Event{Topic: topic, Type: string(typ), Envelope: env}, err
}

// wireTime is a time as the wire shows it: RFC 3339 in UTC with milliseconds.
func wireTime(t time.Time) string { return t.UTC().Format(realtime.TimeFormat) }
