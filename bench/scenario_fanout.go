package main

import (
	"context"
	"fmt"
	"time"
)

// runFanout holds -n subscribers in one room and posts marked messages into it at -rate for
// -duration: delivery ratio, latency, deliveries per second and CPU.
func runFanout(ctx context.Context, cfg config, t *target, rep *report) error {
	addLoadParams(rep, cfg)
	return oneRoom(ctx, cfg, t, rep, "bench-fanout-")
}

// oneRoom is the fanout and cluster scenarios: -n subscribers in one room, spread round-robin
// over the nodes of a cluster (a lone server is a cluster of one); marked messages posted at
// -rate for -duration (-rate 0: a closed loop of -concurrency posters), message i to node
// i mod nodes; then it waits until every subscriber has every accepted message.
func oneRoom(ctx context.Context, cfg config, t *target, rep *report, roomPrefix string) error {
	runID := newRunID()
	room := roomPrefix + runID
	nodes := t.cluster()
	f, err := newFleet(ctx, cfg, t, runID, cfg.n, func(int) string { return room })
	if err != nil {
		return err
	}
	if len(nodes) > 1 {
		spreadOver(f, nodes)
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
	if len(nodes) > 1 {
		p.route = func(idx int64) *target { return nodes[nodeOfMessage(idx, len(nodes))] }
	}
	meter := startNodesCPU(nodes)
	wireBefore := wireBytes.Load()
	start := time.Now()
	if cfg.rate > 0 {
		p.atRate(ctx, cfg.rate, cfg.duration, func(int64) (string, string) { return token, room })
	} else {
		p.closedLoop(ctx, cfg.concurrency, cfg.duration, maxMessages, func(int) (string, string) { return token, room })
	}
	postWall := time.Since(start)
	want := func(*sub) int64 { return p.postedTo(room) }
	f.waitDelivered(ctx, want, cfg.drain)
	perNode, server, self, wall := meter.stop()
	rss := nodesRSS(nodes)
	f.close()

	wire := wireBytes.Load() - wireBefore
	window := time.Unix(0, f.l.lastAt.Load()).Sub(start)
	addDelivery(rep, "", f.subs, want, window)
	addWire(rep, f.subs, wire)
	rep.addLatency("latency", f.l.latency, "post sent → event received")
	if len(nodes) > 1 {
		addLocalRemote(rep, f.l)
	}
	p.addTo(rep)
	addPostCeiling(rep, cfg, p, postWall)
	addCPU(rep, server, self, wall)
	if len(nodes) > 1 {
		addNodes(rep, f, nodes, perNode, rss)
	}
	if p.ok.Load() == 0 {
		return fmt.Errorf("no message was accepted (see post_error_1)")
	}
	return nil
}

// addWire reports the bytes the raw streams read while messages were posted and delivered,
// per delivered message (heartbeats and presence included; polls and library clients are not
// counted).
func addWire(rep *report, subs []*sub, wire int64) {
	var delivered int64
	for _, s := range subs {
		delivered += s.got.Load()
	}
	if wire > 0 && delivered > 0 {
		rep.add("wire_bytes_per_delivery", float64(wire)/float64(delivered), "B", "bytes read from the stream sockets per delivered message, as sent")
	}
}

// addPostCeiling reports the accepted post rate, and says so when the server fell behind.
func addPostCeiling(rep *report, cfg config, p *poster, postWall time.Duration) {
	if postWall <= 0 {
		return
	}
	rate := float64(p.ok.Load()) / postWall.Seconds()
	if cfg.rate <= 0 {
		rep.add("posts_per_s", rate, "/s", "closed loop: the publish ceiling with these subscribers attached")
		return
	}
	rep.add("posts_per_s", rate, "/s", "accepted posts per second of posting")
	if p.skipped.Load() > 0 {
		rep.add("post_ceiling_hint", "below -rate", "", "posts were skipped: the server took longer than -concurrency posts in flight allow; -rate 0 measures the ceiling")
	}
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
	addClients(rep, cfg)
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

// addClients reports which client library reads each transport in use.
func addClients(rep *report, cfg config) {
	if cfg.transport == "sse" || cfg.transport == "mix" {
		rep.add("sse_client", cfg.sseClient, "", "")
	}
	if cfg.transport == "ws" || cfg.transport == "mix" {
		rep.add("ws_client", cfg.wsClient, "", "")
		rep.add("ws_deflate", cfg.wsDeflate, "", "the client offered permessage-deflate")
	}
}

// addCPU reports CPU use over the measured window, in cores (1.0 = one core busy).
func addCPU(rep *report, server, self float64, wall time.Duration) {
	rep.add("window_s", wall.Seconds(), "s", "measured window (delivery scenarios: first post → all delivered or drain timeout)")
	if server >= 0 {
		rep.add("server_cpu_cores", server, "cores", "server CPU seconds per second over the window")
	}
	rep.add("generator_cpu_cores", self, "cores", "generator CPU seconds per second over the window")
}
