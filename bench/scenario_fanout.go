package main

import (
	"context"
	"fmt"
	"time"
)

// runFanout holds -n subscribers in one room and posts marked messages into it at -rate for
// -duration: delivery ratio, latency, deliveries per second and CPU.
func runFanout(ctx context.Context, cfg config, t *target, rep *report) error {
	runID := newRunID()
	room := "bench-fanout-" + runID
	addLoadParams(rep, cfg)
	f, err := newFleet(ctx, cfg, t, runID, cfg.n, func(int) string { return room })
	if err != nil {
		return err
	}
	f.connect(ctx, t, cfg)
	defer f.close()
	f.addConnect(rep)
	if f.connectFailed == cfg.n {
		return fmt.Errorf("no subscriber connected: %v", f.connectErr)
	}
	rep.add("settle_s", f.settle(ctx, time.Second, settleMax).Seconds(), "s", "wait for the join wave's presence events to go quiet")

	token, err := posterToken(ctx, cfg, t, runID)
	if err != nil {
		return err
	}
	p := newPoster(t, cfg, cfg.concurrency)
	meter := startCPU(t.pid)
	start := time.Now()
	p.atRate(ctx, cfg.rate, cfg.duration, func(int64) (string, string) { return token, room })
	want := func(*sub) int64 { return p.postedTo(room) }
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

// settleMax bounds the wait for a join wave to go quiet.
const settleMax = 60 * time.Second

// posterToken returns the token of the run's poster, allowed to publish with -payload publish.
func posterToken(ctx context.Context, cfg config, t *target, runID string) (string, error) {
	user := "b" + runID + "-poster"
	if cfg.payload == "publish" {
		return t.tokens.token(ctx, user, "publish")
	}
	return t.tokens.token(ctx, user)
}

// addLoadParams reports the load settings shared by the delivery scenarios.
func addLoadParams(rep *report, cfg config) {
	rep.add("n", cfg.n, "", "subscribers")
	rep.add("transport", cfg.transport, "", "")
	if cfg.transport == "sse" || cfg.transport == "mix" {
		rep.add("sse_client", cfg.sseClient, "", "")
	}
	users := cfg.users
	if users <= 0 || users > cfg.n {
		users = cfg.n
	}
	rep.add("users", users, "", "distinct users among the subscribers")
	rep.add("rate", cfg.rate, "msg/s", "")
	rep.add("duration_s", cfg.duration.Seconds(), "s", "")
	rep.add("size", cfg.size, "B", "message size (0: short)")
	rep.add("payload", cfg.payload, "", "")
}

// addCPU reports CPU use over the measured window, in cores (1.0 = one core busy).
func addCPU(rep *report, server, self float64, wall time.Duration) {
	rep.add("window_s", wall.Seconds(), "s", "measured window (delivery scenarios: first post → all delivered or drain timeout)")
	if server >= 0 {
		rep.add("server_cpu_cores", server, "cores", "server CPU seconds per second over the window")
	}
	rep.add("generator_cpu_cores", self, "cores", "generator CPU seconds per second over the window")
}
