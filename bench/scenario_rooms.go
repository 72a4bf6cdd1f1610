package main

import (
	"context"
	"fmt"
	"math"
	"time"
)

// runRooms spreads -n clients over -rooms rooms; a fraction -posters of them post into their
// own room as a Poisson process, -rate messages per second in total, for -duration.
func runRooms(ctx context.Context, cfg config, t *target, rep *report) error {
	runID := newRunID()
	addLoadParams(rep, cfg)
	rep.add("rooms", cfg.rooms, "", "")
	roomOf := func(i int) string { return fmt.Sprintf("bench-rooms-%s-%d", runID, i%cfg.rooms) }
	f, err := newFleet(ctx, cfg, t, runID, cfg.n, roomOf)
	if err != nil {
		return err
	}
	f.connect(ctx, t, cfg)
	defer f.close()
	f.addConnect(rep)
	if f.connectFailed == cfg.n {
		return fmt.Errorf("no client connected: %v", f.connectErr)
	}
	rep.add("settle_s", f.settle(ctx, time.Second, settleMax).Seconds(), "s", "wait for the join wave's presence events to go quiet")

	nPosters := max(1, int(math.Ceil(cfg.posters*float64(cfg.n))))
	senders := f.subs[:nPosters] // subscribers 0..P-1 sit in rooms 0..P-1 mod M
	rep.add("posters", nPosters, "", "clients that post, each into its own room")
	p := newPoster(t, cfg, cfg.concurrency)
	meter := startCPU(t.pid)
	start := time.Now()
	p.poisson(ctx, cfg.rate, cfg.duration, senders, func(s *sub) string { return s.rooms })
	want := func(s *sub) int64 { return p.postedTo(s.rooms) }
	f.waitDelivered(ctx, want, cfg.drain)
	server, self, wall := meter.stop()
	f.close()

	window := time.Unix(0, f.l.lastAt.Load()).Sub(start)
	addDelivery(rep, "", f.subs, want, window)
	rep.addLatency("latency", f.l.latency, "post sent → event received")
	p.addTo(rep)
	addCPU(rep, server, self, wall)
	return nil
}
