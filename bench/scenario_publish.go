package main

import (
	"context"
	"fmt"
	"time"
)

// runPublish measures persisted REST posts into one room: -concurrency posters, each posting
// as soon as its last post was answered (or, with -rate, an open loop at that rate), for
// -duration. No subscribers: this is the database path.
func runPublish(ctx context.Context, cfg config, t *target, rep *report) error {
	runID := newRunID()
	room := "bench-publish-" + runID
	rep.add("concurrency", cfg.concurrency, "", "concurrent posters, one user each")
	rep.add("rate", cfg.rate, "msg/s", "0: as fast as the server answers")
	rep.add("duration_s", cfg.duration.Seconds(), "s", "")
	rep.add("size", cfg.size, "B", "")
	rep.add("payload", cfg.payload, "", "")
	tokens := make([]string, cfg.concurrency)
	for i := range tokens {
		var perms []string
		if cfg.payload == "publish" {
			perms = []string{"publish"}
		}
		tok, err := t.tokens.token(ctx, fmt.Sprintf("b%s-p%d", runID, i), perms...)
		if err != nil {
			return err
		}
		tokens[i] = tok
	}
	// One unmeasured post each: the first post makes its author a member of the room.
	warm := newPoster(t, cfg, cfg.concurrency)
	for _, tok := range tokens {
		if err := warm.post(ctx, tok, room); err != nil {
			return fmt.Errorf("warm-up post: %w", err)
		}
	}

	post := func(p *poster, d time.Duration) {
		if cfg.rate > 0 {
			p.atRate(ctx, cfg.rate, d, func(i int64) (string, string) {
				return tokens[i%int64(len(tokens))], room
			})
		} else {
			p.closedLoop(ctx, cfg.concurrency, d, 0, func(w int) (string, string) { return tokens[w], room })
		}
	}
	if cfg.warmup > 0 {
		// The same load, unmeasured: what follows is the steady state, not a fresh database's
		// first seconds.
		post(newPoster(t, cfg, cfg.concurrency), cfg.warmup)
	}
	rep.add("warmup_s", cfg.warmup.Seconds(), "s", "the same load posted, unmeasured, before the measured window")

	p := newPoster(t, cfg, cfg.concurrency)
	meter := startCPU(t.pid)
	post(p, cfg.duration)
	server, self, wall := meter.stop()
	rep.add("posts_per_s", float64(p.ok.Load())/wall.Seconds(), "/s", "accepted posts per second (targets: ≥ 5,000 on PostgreSQL and SQLite)")
	p.addTo(rep)
	addCPU(rep, server, self, wall)
	if p.ok.Load() == 0 {
		return fmt.Errorf("no post was accepted")
	}
	return nil
}
