package main

import (
	"context"
	"fmt"
	"time"
)

// runResume connects -n clients to one room, disconnects them all, posts -missed messages,
// then reconnects them spread over -spread, each with the cursor of the last event it read:
// how long until every client holds every missed message, and how many were lost or doubled.
func runResume(ctx context.Context, cfg config, t *target, rep *report) error {
	runID := newRunID()
	room := "bench-resume-" + runID
	rep.add("n", cfg.n, "", "clients")
	rep.add("transport", cfg.transport, "", "")
	addClients(rep, cfg)
	rep.add("missed", cfg.missed, "", "messages posted while every client is away")
	rep.add("spread_s", cfg.spread.Seconds(), "s", "clients reconnect spread over this long")
	f, err := newFleet(ctx, cfg, t, runID, cfg.n, func(int) string { return room })
	if err != nil {
		return err
	}
	f.connect(ctx, t, cfg)
	f.addConnect(rep)
	if f.connectFailed > 0 {
		f.close()
		return fmt.Errorf("%d clients did not connect: %v", f.connectFailed, f.connectErr)
	}
	rep.add("settle_s", f.settle(ctx, time.Second, settleMax).Seconds(), "s", "")
	f.close() // every client goes away, keeping its cursor
	for _, s := range f.subs {
		if len(s.cursor) == 0 {
			return fmt.Errorf("client %d holds no cursor", s.i)
		}
		s.ends = nil
	}

	token, err := posterToken(ctx, cfg, t, runID)
	if err != nil {
		return err
	}
	p := newPoster(t, cfg, cfg.concurrency)
	p.closedLoop(ctx, cfg.concurrency, time.Minute, int64(cfg.missed), func(int) (string, string) { return token, room })
	posted := p.postedTo(room)
	if posted < int64(cfg.missed) {
		p.addTo(rep)
		return fmt.Errorf("only %d of %d messages were accepted", posted, cfg.missed)
	}
	for _, s := range f.subs {
		s.expect(posted)
	}

	meter := startCPU(t.pid)
	start := time.Now()
	n := len(f.subs)
	f.launch(ctx, t, cfg, n, func(i int) time.Duration { return cfg.spread * time.Duration(i) / time.Duration(n) })
	reconnectTime := time.Since(start)
	want := func(*sub) int64 { return posted }
	all := f.waitDelivered(ctx, want, cfg.drain)
	allAt := time.Since(start)
	sleepUntil(ctx, time.Now().Add(500*time.Millisecond)) // late duplicates would show now
	server, self, wall := meter.stop()
	f.close()

	rep.add("reconnect_s", reconnectTime.Seconds(), "s", "first reconnect → last connected event")
	rep.add("reconnect_failed", f.connectFailed, "", "")
	if f.connectErr != nil {
		rep.add("reconnect_error", f.connectErr.Error(), "", "first failure")
	}
	rep.add("all_caught_up", all, "", "")
	rep.add("all_caught_up_s", allAt.Seconds(), "s", "first reconnect → the last client holds every missed message (target ≤ 5 s)")
	catchUp := new(hist)
	var lost int64
	for _, s := range f.subs {
		lost += max(0, posted-s.got.Load())
		select {
		case <-s.done:
			catchUp.record(s.doneAt.Sub(s.startedAt))
		default:
		}
	}
	rep.add("lost", lost, "", "missed messages a client never received (target 0)")
	addDelivery(rep, "", f.subs, want, 0)
	rep.addLatency("catch_up", catchUp, "one client: its reconnect → it holds every missed message")
	p.addTo(rep)
	addCPU(rep, server, self, wall)
	return nil
}
