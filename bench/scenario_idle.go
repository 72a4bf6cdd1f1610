package main

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// runIdle holds -n streams open and reads the server's RSS before and after: the memory one
// idle connection costs. With -rooms M the connections spread over M rooms; by default they
// name none and hold only their own user's topics.
func runIdle(ctx context.Context, cfg config, t *target, rep *report) error {
	runID := newRunID()
	rep.add("n", cfg.n, "", "connections")
	rep.add("transport", cfg.transport, "", "")
	addClients(rep, cfg)
	rep.add("rooms", cfg.rooms, "", "")
	if t.pid <= 0 {
		rep.add("note", "no -pid: server RSS is not measured", "", "")
	}
	sleepUntil(ctx, time.Now().Add(time.Second)) // let the fresh server's start-up garbage go
	before := t.rss()
	goroutinesBefore, gerr := t.goroutines(ctx)
	f, err := newFleet(ctx, cfg, t, runID, cfg.n, func(i int) string {
		if cfg.rooms == 0 {
			return ""
		}
		return fmt.Sprintf("bench-idle-%s-%d", runID, i%cfg.rooms)
	})
	if err != nil {
		return err
	}
	f.connect(ctx, t, cfg)
	defer f.close()
	f.addConnect(rep)
	sleepUntil(ctx, time.Now().Add(cfg.settle))
	if n, err := t.connectedClients(ctx); err == nil {
		rep.add("server_connections", n, "", "connectedClients of GET /ws/health after settling")
	}
	after := t.rss()
	if goroutinesAfter, err := t.goroutines(ctx); err == nil && gerr == nil {
		rep.add("server_goroutines_before", goroutinesBefore, "", "go_goroutines of /metrics before connecting")
		rep.add("server_goroutines", goroutinesAfter, "", "go_goroutines of /metrics with every stream open and idle")
	}
	open := cfg.n - f.connectFailed
	if before >= 0 && after >= 0 && open > 0 {
		rep.add("server_rss_before_mib", mib(before), "MiB", "server VmRSS before connecting")
		rep.add("server_rss_after_mib", mib(after), "MiB", fmt.Sprintf("server VmRSS %v after the last connect", cfg.settle))
		rep.add("server_kib_per_conn", float64(after-before)/1024/float64(open), "KiB", "(after − before) / open connections (target ≤ 5 KiB for 10,000 SSE, issue 22)")
	}
	if self, err := readRSS(0); err == nil {
		rep.add("generator_rss_mib", mib(self), "MiB", "")
		rep.add("generator_kib_per_conn", float64(self)/1024/float64(max(open, 1)), "KiB", "generator VmRSS / open connections")
	}
	rep.add("generator_goroutines", runtime.NumGoroutine(), "", "")
	var ends int
	for _, s := range f.subs {
		ends += len(s.ends)
	}
	rep.add("stream_ends", ends, "", "streams the server ended while idle (target 0)")
	if f.connectFailed == cfg.n {
		return fmt.Errorf("no connection opened: %v", f.connectErr)
	}
	return nil
}
