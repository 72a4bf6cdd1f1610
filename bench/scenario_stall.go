package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// runStall holds -n subscribers in one room, of which -stalled stop reading after their
// connected event, on raw SSE sockets with a small SO_RCVBUF. Messages of -size bytes are
// posted at -rate for -duration. The readers' figures must match a fanout without stalls;
// the stalled ones must be disconnected by the server, and after they resume from the id of
// the last event they read, hold every message exactly once.
func runStall(ctx context.Context, cfg config, t *target, rep *report) error {
	runID := newRunID()
	room := "bench-stall-" + runID
	addLoadParams(rep, cfg)
	rep.add("stalled", cfg.stalled, "", "subscribers that stop reading")
	rep.add("rcvbuf", cfg.rcvbuf, "B", "SO_RCVBUF of the stalled sockets")
	f, err := newFleet(ctx, cfg, t, runID, cfg.n, func(int) string { return room })
	if err != nil {
		return err
	}
	stalledLoad := newLoad()
	readers, stalled := f.subs[:cfg.n-cfg.stalled], f.subs[cfg.n-cfg.stalled:]
	pauses := make([]chan struct{}, len(stalled))
	for i, s := range stalled {
		pauses[i] = make(chan struct{})
		s.transport, s.rcvbuf, s.pause, s.l = "sse", cfg.rcvbuf, pauses[i], stalledLoad
	}
	f.connect(ctx, t, cfg)
	defer f.close()
	f.addConnect(rep)
	if f.connectFailed > 0 {
		return fmt.Errorf("%d subscribers did not connect: %v", f.connectFailed, f.connectErr)
	}
	rep.add("settle_s", f.settle(ctx, time.Second, settleMax).Seconds(), "s", "")
	base, err := t.connectedClients(ctx)
	if err != nil {
		return fmt.Errorf("GET /ws/health: %w", err)
	}

	token, err := posterToken(ctx, cfg, t, runID)
	if err != nil {
		return err
	}
	p := newPoster(t, cfg, cfg.concurrency)
	start := time.Now()
	watch := watchConnections(ctx, t, base, start)
	meter := startCPU(t.pid)
	p.atRate(ctx, cfg.rate, cfg.duration, func(int64) (string, string) { return token, room })
	want := func(*sub) int64 { return p.postedTo(room) }
	readersDone := (&fleet{subs: readers, l: f.l}).waitDelivered(ctx, want, cfg.drain)
	server, self, wall := meter.stop()
	drops := watch.stop()

	resumeAt := time.Now()
	for _, s := range stalled {
		s.expect(want(s))
	}
	for _, c := range pauses {
		close(c)
	}
	stalledDone := (&fleet{subs: stalled, l: stalledLoad}).waitDelivered(ctx, want, cfg.drain)
	f.close()

	if p.ok.Load() == 0 {
		p.addTo(rep)
		return fmt.Errorf("no message was accepted (see post_error_1)")
	}
	window := time.Unix(0, f.l.lastAt.Load()).Sub(start)
	addDelivery(rep, "readers_", readers, want, window)
	rep.add("readers_all_delivered", readersDone, "", "")
	rep.addLatency("readers_latency", f.l.latency, "readers: post sent → event received")
	p.addTo(rep)
	addCPU(rep, server, self, wall)

	rep.add("server_connections_before", base, "", "connectedClients before posting")
	for i, d := range drops {
		if i == 8 {
			break
		}
		rep.add(fmt.Sprintf("server_connections_at_%.1fs", d.at.Seconds()), d.count, "", "a change in connectedClients, seconds after the first post")
	}
	if at, ok := firstAtOrBelow(drops, base-cfg.stalled); ok {
		rep.add("stalled_dropped_by_s", at.Seconds(), "s", "seconds after the first post when the server held K fewer connections (target ≤ 10 s)")
	} else {
		rep.add("stalled_dropped_by_s", nil, "s", "the server never held K fewer connections while posting")
	}

	var disconnected, reconnected int
	var eofAfter time.Duration
	for _, s := range stalled {
		if len(s.ends) > 0 {
			disconnected++
			eofAfter = max(eofAfter, s.ends[0].at.Sub(resumeAt))
		}
		if s.sessions > 1 {
			reconnected++
		}
	}
	rep.add("stalled_disconnected", disconnected, "", "stalled streams that ended with EOF once read again (target: all)")
	rep.add("stalled_eof_after_resume_s", eofAfter.Seconds(), "s", "reading the buffered bytes until EOF took this long")
	rep.add("stalled_resumed", reconnected, "", "reconnected with Last-Event-ID = the id of the last event read")
	addDelivery(rep, "stalled_", stalled, want, 0)
	rep.add("stalled_all_recovered", stalledDone, "", "every message exactly once after resuming (target true)")
	var caughtUp time.Duration
	for _, s := range stalled {
		select {
		case <-s.done:
			caughtUp = max(caughtUp, s.doneAt.Sub(resumeAt))
		default:
		}
	}
	rep.add("stalled_caught_up_s", caughtUp.Seconds(), "s", "from reading again to holding every message")
	return nil
}

// connWatch samples GET /ws/health while messages are posted and keeps every change in the
// connection count.
type connWatch struct {
	stopCh chan struct{}
	wg     sync.WaitGroup
	drops  []countAt
}

type countAt struct {
	at    time.Duration
	count int
}

func watchConnections(ctx context.Context, t *target, base int, start time.Time) *connWatch {
	w := &connWatch{stopCh: make(chan struct{})}
	w.wg.Go(func() {
		last := base
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stopCh:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			n, err := t.connectedClients(cctx)
			cancel()
			if err == nil && n != last {
				w.drops = append(w.drops, countAt{time.Since(start), n})
				last = n
			}
		}
	})
	return w
}

func (w *connWatch) stop() []countAt {
	close(w.stopCh)
	w.wg.Wait()
	return w.drops
}

func firstAtOrBelow(drops []countAt, n int) (time.Duration, bool) {
	for _, d := range drops {
		if d.count <= n {
			return d.at, true
		}
	}
	return 0, false
}
