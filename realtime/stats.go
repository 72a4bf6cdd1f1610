package realtime

// Stats counts what the hub holds and does.
type Stats struct {
	Connections     int               `json:"connections"`
	ByTransport     map[Transport]int `json:"by_transport"`
	Topics          int               `json:"topics"`
	Rooms           int               `json:"rooms"`
	Subscriptions   int               `json:"subscriptions"`
	EventsPerSecond float64           `json:"events_per_second"` // published, over the last 10 s
	Published       uint64            `json:"published_total"`
	Delivered       uint64            `json:"delivered_total"` // frames handed to subscribers
	SlowClosed      uint64            `json:"slow_disconnects_total"`
	Recovered       uint64            `json:"resumes_recovered_total"`
	Resets          uint64            `json:"resumes_reset_total"`
}

// Stats returns current counts.
func (h *Hub) Stats() Stats {
	st := Stats{ByTransport: make(map[Transport]int), EventsPerSecond: h.published.rate(10), Published: h.published.total(),
		Delivered: h.delivered.Load(), SlowClosed: h.counters.slow.Load(), Recovered: h.counters.recovered.Load(),
		Resets: h.counters.resets.Load()}
	for _, tr := range []Transport{TransportSSE, TransportWS, TransportPoll} {
		st.ByTransport[tr] = 0
	}
	for _, c := range h.conns.all() {
		st.Connections++
		st.ByTransport[c.transport]++
	}
	for i := range h.shard {
		s := &h.shard[i]
		s.mu.RLock()
		st.Topics += len(s.topics)
		for name, t := range s.topics {
			if _, ok := RoomOf(name); ok {
				st.Rooms++
			}
			t.mu.Lock()
			st.Subscriptions += len(t.subs)
			t.mu.Unlock()
		}
		s.mu.RUnlock()
	}
	return st
}
