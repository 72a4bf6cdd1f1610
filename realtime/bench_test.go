package realtime

import (
	"context"
	"fmt"
	"testing"
)

// publishFixture is a hub with n subscribers of one room, consumed as each connection's writer
// would: Drain into a reused buffer.
type publishFixture struct {
	h     *Hub
	store *memStore
	conns []*Conn
	bufs  [][]Message
}

func newPublishFixture(tb testing.TB, n int) *publishFixture {
	tb.Helper()
	store := newMemStore()
	h, err := New(Config{Store: store, Epoch: 7, QueueSize: 1 << 20, QueueBytes: 1 << 30})
	if err != nil {
		tb.Fatal(err)
	}
	f := &publishFixture{h: h, store: store, conns: make([]*Conn, n), bufs: make([][]Message, n)}
	tb.Cleanup(f.close)
	for i := range f.conns {
		c, err := h.Connect(context.Background(), ConnectOptions{User: User{ID: fmt.Sprint("u", i)},
			Transport: TransportSSE, Subscriptions: []Subscription{{Topic: "room:bench"}}})
		if err != nil {
			tb.Fatal(err)
		}
		f.conns[i] = c
	}
	f.drain() // connected and presence
	return f
}

// frames commits n chat messages and returns their frames, ready to publish.
func (f *publishFixture) frames(n int) []*Frame {
	out := make([]*Frame, n)
	for i := range out {
		out[i] = f.store.append("room:bench", EventChatMessage, chat(i))
	}
	return out
}

// drain takes everything queued for every subscriber and reports how many messages that was.
func (f *publishFixture) drain() int {
	total := 0
	for i, c := range f.conns {
		msgs, _ := c.Drain(context.Background(), f.bufs[i][:0], 1024)
		total += len(msgs)
		clear(msgs)
		f.bufs[i] = msgs
	}
	return total
}

// warmUp publishes and drains batches of every size the measurement uses, so that queues and
// buffers have grown before anything is counted.
func (f *publishFixture) warmUp(batch int) {
	for range 2 {
		for _, fr := range f.frames(batch) {
			f.h.Publish(fr)
		}
		f.drain()
	}
}

func (f *publishFixture) close() {
	for _, c := range f.conns {
		f.h.Disconnect(c)
	}
	f.h.Close()
}

// drainEvery is how many publishes the benchmark queues before the subscribers drain them.
const drainEvery = 64

// BenchmarkPublish measures one publish fanned out to n subscribers and consumed by them, as
// each connection's writer would. Allocations per publish must not grow with n: the event is
// encoded once and shared.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprint("subscribers=", n), func(b *testing.B) {
			f := newPublishFixture(b, n)
			f.warmUp(drainEvery)
			frames := f.frames(b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f.h.Publish(frames[i])
				if i%drainEvery == drainEvery-1 {
					f.drain()
				}
			}
			f.drain()
			b.StopTimer()
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// TestPublishAllocationsDoNotGrowWithSubscribers checks what BenchmarkPublish reports: once
// queues have grown, publishing to 1,000 subscribers allocates no more than publishing to one.
func TestPublishAllocationsDoNotGrowWithSubscribers(t *testing.T) {
	const runs = 50
	allocs := func(n int) float64 {
		f := newPublishFixture(t, n)
		f.warmUp(1)
		frames := f.frames(runs + 1) // AllocsPerRun calls once more to warm up
		next, delivered := 0, 0
		a := testing.AllocsPerRun(runs, func() {
			f.h.Publish(frames[next])
			next++
			delivered += f.drain()
		})
		if delivered != (runs+1)*n {
			t.Fatalf("%d subscribers: %d deliveries, want %d", n, delivered, (runs+1)*n)
		}
		return a
	}
	one, many := allocs(1), allocs(1000)
	t.Logf("allocations per publish and drain: %.1f with 1 subscriber, %.1f with 1,000", one, many)
	if many > one+2 { // one allocation per subscriber would add 1,000
		t.Fatalf("publishing to 1,000 subscribers allocates %.1f times, to one %.1f: it grows with subscribers", many, one)
	}
}
