package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// fleet is a run's subscribers and the goroutines that keep their streams open.
type fleet struct {
	subs   []*sub
	l      *load
	cancel context.CancelFunc
	wg     sync.WaitGroup

	connectTime   time.Duration
	connectFailed int
	connectErr    error
}

// newRunID returns a short random id that keeps one run's rooms and users apart from others'.
func newRunID() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// transportOf gives connection i its transport: -transport, or sse/ws/poll in turn for mix.
func transportOf(cfg config, i int) string {
	if cfg.transport == "mix" {
		return [...]string{"sse", "ws", "poll"}[i%3]
	}
	return cfg.transport
}

// newFleet makes n subscribers; subscriber i belongs to user i mod -users and reads rooms(i).
func newFleet(ctx context.Context, cfg config, t *target, runID string, n int, rooms func(i int) string) (*fleet, error) {
	f := &fleet{l: newLoad()}
	users := cfg.users
	if users <= 0 || users > n {
		users = n
	}
	for i := range n {
		user := fmt.Sprintf("b%s-u%d", runID, i%users)
		tok, err := t.tokens.token(ctx, user)
		if err != nil {
			return nil, err
		}
		f.subs = append(f.subs, newSub(i, user, tok, rooms(i), transportOf(cfg, i), f.l))
	}
	return f, nil
}

// connect opens every subscriber's stream, -dial at a time, and waits until each is
// connected or has failed. Streams that end later are resumed from their cursor.
func (f *fleet) connect(ctx context.Context, t *target, cfg config) {
	f.launch(ctx, t, cfg, cfg.dial, nil)
}

// launch starts every subscriber's keepAlive loop, subscriber i after delay(i) when delay is
// set, with at most dial streams opening at once, and waits until each is connected or has
// failed.
func (f *fleet) launch(ctx context.Context, t *target, cfg config, dial int, delay func(i int) time.Duration) {
	ctx, f.cancel = context.WithCancel(ctx)
	slots := make(chan struct{}, dial)
	results := make(chan error, len(f.subs))
	start := time.Now()
	f.connectFailed, f.connectErr = 0, nil
	for i, s := range f.subs {
		f.wg.Go(func() {
			if delay != nil && !sleepUntil(ctx, start.Add(delay(i))) {
				results <- ctx.Err()
				return
			}
			s.startedAt = time.Now()
			s.keepAlive(ctx, t, cfg, slots, func(err error) { results <- err })
		})
	}
	for range f.subs {
		select {
		case err := <-results:
			if err != nil {
				f.connectFailed++
				if f.connectErr == nil {
					f.connectErr = err
				}
			}
		case <-ctx.Done():
			f.connectTime = time.Since(start)
			return
		}
	}
	f.connectTime = time.Since(start)
}

// settle waits until no event has arrived for quiet (presence and room_info after a wave of
// joins), at most max. It returns how long it waited.
func (f *fleet) settle(ctx context.Context, quiet, max time.Duration) time.Duration {
	start := time.Now()
	last, lastChange := f.l.events.Load(), time.Now()
	for time.Since(start) < max && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if n := f.l.events.Load(); n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) >= quiet {
			break
		}
	}
	return time.Since(start)
}

// waitDelivered waits until every subscriber has received want(s) marked messages, or no
// delivery has happened for max, or ctx ends. It reports whether all arrived.
func (f *fleet) waitDelivered(ctx context.Context, want func(*sub) int64, max time.Duration) bool {
	lastProgress, last := time.Now(), f.l.marked.Load()
	for ctx.Err() == nil {
		all := true
		for _, s := range f.subs {
			if s.got.Load() < want(s) {
				all = false
				break
			}
		}
		if all {
			return true
		}
		if n := f.l.marked.Load(); n != last {
			last, lastProgress = n, time.Now()
		} else if time.Since(lastProgress) > max {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// close ends every stream and waits for the readers to stop.
func (f *fleet) close() {
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
	f.cancel = nil
}

// addConnect reports how connecting went.
func (f *fleet) addConnect(rep *report) {
	rep.add("connect_s", f.connectTime.Seconds(), "s", "time to open every stream and see its connected event")
	if f.connectTime > 0 {
		rep.add("connect_per_s", float64(len(f.subs)-f.connectFailed)/f.connectTime.Seconds(), "/s", "")
	}
	rep.add("connect_failed", f.connectFailed, "", "")
	if f.connectErr != nil {
		rep.add("connect_error", f.connectErr.Error(), "", "first failure")
	}
}

// addDelivery reports delivery of marked messages to subs, against want(s) each; window is
// the time from the first post to the last delivery. Call after close.
func addDelivery(rep *report, prefix string, subs []*sub, want func(*sub) int64, window time.Duration) {
	var expected, delivered, dup, other, resets, reconnects int64
	minGot, maxGot := int64(-1), int64(0)
	for _, s := range subs {
		got := s.got.Load()
		expected += want(s)
		delivered += got
		dup += s.dup.Load()
		other += s.other
		resets += s.resets
		reconnects += int64(len(s.ends))
		if minGot < 0 || got < minGot {
			minGot = got
		}
		maxGot = max(maxGot, got)
	}
	ratio := 1.0
	if expected > 0 {
		ratio = float64(delivered) / float64(expected)
	}
	rep.add(prefix+"expected", expected, "", "accepted messages × subscribers of their room")
	rep.add(prefix+"delivered", delivered, "", "distinct marked messages received")
	rep.add(prefix+"ratio", ratio, "", "delivered / expected (target 1.0)")
	rep.add(prefix+"duplicates", dup, "", "marked messages received more than once (target 0)")
	rep.add(prefix+"per_sub_min", max(minGot, 0), "", "fewest messages one subscriber received")
	rep.add(prefix+"per_sub_max", maxGot, "", "most messages one subscriber received")
	rep.add(prefix+"stream_ends", reconnects, "", "streams the server ended (each resumed from its cursor)")
	rep.add(prefix+"resets", resets, "", "reset events (history gap)")
	rep.add(prefix+"other_events", other, "", "events without a marker (connected, presence, room_info, …)")
	if window > 0 {
		rep.add(prefix+"deliveries_per_s", float64(delivered)/window.Seconds(), "/s", "delivered / (last delivery − first post)")
	}
}
