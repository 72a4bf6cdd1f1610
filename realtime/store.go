package realtime

import "context"

// Store is the event log the hub reads. It is declared here, where it is consumed, with plain
// types only, so that package db satisfies it without importing realtime.
//
// Offsets are per topic, start at 1, and have no holes: the offset of a durable event is
// assigned in the transaction that stores it, so a topic's order is its commit order.
type Store interface {
	// LoadTopic returns the durable id and the current head (highest committed offset, 0 when
	// none) of the named topic, creating the topic when it is new.
	LoadTopic(ctx context.Context, name string) (id int64, head uint64, err error)

	// ReadTopic calls fn, in offset order, for at most limit logged events of topic id whose
	// offset is greater than after; audience is the event's stored AudienceString. It returns
	// the topic's head and the highest offset that retention has trimmed from the log (0 when
	// nothing was trimmed).
	ReadTopic(ctx context.Context, id int64, after uint64, limit int,
		fn func(offset uint64, typ string, payload []byte, audience string)) (head, trimmed uint64, err error)

	// TopicNames resolves durable topic ids, as named in a cursor, to topic names. Unknown ids
	// are absent from the result.
	TopicNames(ctx context.Context, ids []int64) (map[int64]string, error)
}
