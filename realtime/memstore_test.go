package realtime

import (
	"context"
	"sync"
)

// memStore is an in-memory event log for tests of the hub without a database.
type memStore struct {
	mu      sync.Mutex
	ids     map[string]int64
	names   map[int64]string
	log     map[int64][]storedEvent
	trimmed map[int64]uint64
}

type storedEvent struct {
	offset   uint64
	typ      string
	payload  []byte
	audience string
}

func newMemStore() *memStore {
	return &memStore{ids: map[string]int64{}, names: map[int64]string{}, log: map[int64][]storedEvent{},
		trimmed: map[int64]uint64{}}
}

func (s *memStore) topicID(name string) int64 {
	id, ok := s.ids[name]
	if !ok {
		id = int64(len(s.ids) + 1)
		s.ids[name], s.names[id] = id, name
	}
	return id
}

// append commits an event and returns its frame, ready to publish.
func (s *memStore) append(topic string, typ EventType, data any) *Frame {
	payload := mustEncode(Event{Type: typ, Data: data})
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.topicID(topic)
	off := uint64(len(s.log[id])) + s.trimmed[id] + 1
	s.log[id] = append(s.log[id], storedEvent{off, string(typ), payload, ""})
	return &Frame{Topic: topic, TopicID: id, Offset: off, Type: typ, Payload: payload}
}

// appendFor commits an event for an audience of roles.
func (s *memStore) appendFor(topic string, typ EventType, data any, roles ...string) *Frame {
	f := s.append(topic, typ, data)
	s.mu.Lock()
	defer s.mu.Unlock()
	events := s.log[f.TopicID]
	events[len(events)-1].audience = AudienceString(roles)
	f.Audience = roles
	return f
}

// trim drops a topic's events up to and including offset.
func (s *memStore) trim(topic string, offset uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.topicID(topic)
	var kept []storedEvent
	for _, e := range s.log[id] {
		if e.offset > offset {
			kept = append(kept, e)
		}
	}
	s.log[id], s.trimmed[id] = kept, offset
}

func (s *memStore) head(id int64) uint64 {
	return uint64(len(s.log[id])) + s.trimmed[id]
}

func (s *memStore) LoadTopic(_ context.Context, name string) (int64, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.topicID(name)
	return id, s.head(id), nil
}

func (s *memStore) ReadTopic(_ context.Context, id int64, after uint64, limit int,
	fn func(offset uint64, typ string, payload []byte, audience string)) (uint64, uint64, error) {
	s.mu.Lock()
	events := s.log[id]
	head, trimmed := s.head(id), s.trimmed[id]
	s.mu.Unlock()
	for _, e := range events {
		if e.offset > after && limit > 0 {
			fn(e.offset, e.typ, e.payload, e.audience)
			limit--
		}
	}
	return head, trimmed, nil
}

func (s *memStore) TopicNames(_ context.Context, ids []int64) (map[int64]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int64]string{}
	for _, id := range ids {
		if name, ok := s.names[id]; ok {
			out[id] = name
		}
	}
	return out, nil
}
