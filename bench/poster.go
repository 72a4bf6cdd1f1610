package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// poster sends marked messages over REST: chat messages (POST /api/rooms/:room/messages) or
// data updates (POST /api/publish). Every message gets a run-wide index; posted counts only
// the ones the server accepted, per room.
type poster struct {
	t       *target
	payload string
	size    int
	latency *hist // POST round trips of accepted messages
	// route, when set (cluster), picks the node message idx is posted to; else it goes to t.
	route func(idx int64) *target

	next    atomic.Int64 // index of the next message
	ok      atomic.Int64
	failed  atomic.Int64
	skipped atomic.Int64 // not sent: too many posts already in flight

	mu       sync.Mutex // guards posted and errs
	posted   map[string]int64
	errs     map[string]int64 // failures by status or error
	inflight chan struct{}
}

func newPoster(t *target, cfg config, maxInflight int) *poster {
	return &poster{t: t, payload: cfg.payload, size: cfg.size, latency: new(hist),
		posted: make(map[string]int64), errs: make(map[string]int64),
		inflight: make(chan struct{}, maxInflight)}
}

// post sends one message to room as the holder of token, and waits for the answer.
func (p *poster) post(ctx context.Context, token, room string) error {
	idx := p.next.Add(1) - 1
	t := p.t
	if p.route != nil {
		t = p.route(idx)
	}
	sent := time.Now()
	body := p.body(idx, sent.UnixNano(), room)
	path := "/api/rooms/" + room + "/messages"
	if p.payload == "publish" {
		path = "/api/publish"
	}
	status, err := t.postJSON(ctx, path, token, body, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.failed.Add(1)
		key := err.Error()
		var he *httpError
		if errors.As(err, &he) {
			key = strconv.Itoa(he.status) + " " + truncate(he.body, 160)
		}
		p.mu.Lock()
		p.errs[key]++
		p.mu.Unlock()
		return err
	}
	_ = status
	p.latency.record(time.Since(sent))
	p.ok.Add(1)
	p.mu.Lock()
	p.posted[room]++
	p.mu.Unlock()
	return nil
}

// body builds a request body of about p.size bytes carrying the marker.
func (p *poster) body(idx, sentNs int64, room string) []byte {
	text := appendMarker(make([]byte, 0, max(p.size, 64)), idx, sentNs)
	if p.size > 0 {
		text = padTo(text, p.size)
	}
	if p.payload == "publish" {
		b, _ := json.Marshal(map[string]any{"type": "data_update",
			"data": map[string]string{"bench": string(text)}, "rooms": []string{room}})
		return b
	}
	b, _ := json.Marshal(map[string]string{"content": string(text)})
	return b
}

// async posts without waiting, unless maxInflight posts are already waiting: then the message
// is skipped and counted, so a slow server cannot slow the schedule (an open loop).
func (p *poster) async(ctx context.Context, wg *sync.WaitGroup, token, room string) {
	select {
	case p.inflight <- struct{}{}:
	default:
		p.skipped.Add(1)
		return
	}
	wg.Go(func() {
		defer func() { <-p.inflight }()
		_ = p.post(ctx, token, room)
	})
}

// postedTo returns how many messages room accepted.
func (p *poster) postedTo(room string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.posted[room]
}

// atRate posts for d at a fixed rate, message i as pick(i) gives, then waits for the posts
// in flight.
func (p *poster) atRate(ctx context.Context, rate float64, d time.Duration, pick func(i int64) (token, room string)) {
	var wg sync.WaitGroup
	start := time.Now()
	total := int64(rate * d.Seconds())
	for i := int64(0); i < total; i++ {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if !sleepUntil(ctx, due) {
			break
		}
		token, room := pick(i)
		p.async(ctx, &wg, token, room)
	}
	wg.Wait()
}

// closedLoop runs workers posters, each posting as soon as its last post was answered, until
// d has passed or count messages were sent (count 0: no bound).
func (p *poster) closedLoop(ctx context.Context, workers int, d time.Duration, count int64, pick func(worker int) (token, room string)) {
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	var sent atomic.Int64
	for w := range workers {
		token, room := pick(w)
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if count > 0 && sent.Add(1) > count {
					return
				}
				_ = p.post(ctx, token, room)
			}
		})
	}
	wg.Wait()
}

// poisson posts for d at a total rate, each message from a sender picked at random: the sum
// of independent Poisson senders is one Poisson process with the summed rate.
func (p *poster) poisson(ctx context.Context, rate float64, d time.Duration, senders []*sub, roomOf func(*sub) string) {
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	next := time.Now()
	for {
		next = next.Add(time.Duration(rand.ExpFloat64() / rate * float64(time.Second)))
		if next.After(end) || !sleepUntil(ctx, next) {
			break
		}
		s := senders[rand.IntN(len(senders))]
		p.async(ctx, &wg, s.token, roomOf(s))
	}
	wg.Wait()
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// addTo reports the poster's figures.
func (p *poster) addTo(rep *report) {
	rep.add("posts_ok", p.ok.Load(), "", "messages the server accepted (2xx)")
	rep.add("posts_failed", p.failed.Load(), "", "")
	rep.add("posts_skipped", p.skipped.Load(), "", "not sent: too many posts in flight (the server fell behind the schedule)")
	rep.addLatency("post_latency", p.latency, "POST round trip")
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, v := range p.errs {
		if n++; n > 5 {
			break
		}
		rep.add(fmt.Sprintf("post_error_%d", n), fmt.Sprintf("%d× %s", v, k), "", "")
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
