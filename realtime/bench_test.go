package realtime

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkPublish measures one publish fanned out to n subscribers and consumed by them, as
// each connection's writer would. Allocations per publish must not grow with n: the event is
// encoded once and shared.
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprint("subscribers=", n), func(b *testing.B) {
			store := newMemStore()
			h, err := New(Config{Store: store, Epoch: 7, QueueSize: 1 << 20, QueueBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer h.Close()
			ctx := context.Background()
			conns := make([]*Conn, n)
			for i := range conns {
				c, err := h.Connect(ctx, ConnectOptions{User: User{ID: fmt.Sprint("u", i)}, Transport: TransportSSE,
					Subscriptions: []Subscription{{Topic: "room:bench"}}})
				if err != nil {
					b.Fatal(err)
				}
				conns[i] = c
			}
			bufs := make([][]Message, n)
			drain := func() {
				for i, c := range conns {
					msgs, _ := c.Drain(ctx, bufs[i][:0], 1024)
					clear(msgs)
					bufs[i] = msgs
				}
			}
			drain() // connected and presence
			frames := make([]*Frame, b.N)
			for i := range frames {
				frames[i] = store.append("room:bench", EventChatMessage, chat(i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Publish(frames[i])
				if i%64 == 63 {
					drain()
				}
			}
			drain()
			b.StopTimer()
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "deliveries/s")
			for _, c := range conns {
				h.Disconnect(c)
			}
		})
	}
}
