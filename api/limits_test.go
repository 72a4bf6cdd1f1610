package api

import (
	"fmt"
	"testing"
)

// TestRefusedRequestsMakeNoConnectionBuckets: a user over its rate who sends a new made-up
// connection id with every request must not make the limiter keep a bucket for each.
func TestRefusedRequestsMakeNoConnectionBuckets(t *testing.T) {
	l := newLimiter(LimitsConfig{}, nil)
	l.cfg.setDefaults()
	for i := range 10_000 {
		l.allow(actTyping, "u", fmt.Sprint("c_FORGED", i))
	}
	if n := len(l.buckets); n > 100 {
		t.Fatalf("%d buckets after 10,000 requests of one user, nearly all refused", n)
	}
}

// Rate limits are read from "name=rate/burst,…" (per user; per connection half), "off" lifts
// them, and anything else is refused with the part that is wrong.
func TestParseLimits(t *testing.T) {
	var cfg LimitsConfig
	if err := ParseLimits("messages=10/20, typing=5/10", &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Messages.User != (Limit{Rate: 10, Burst: 20}) || cfg.Messages.Conn != (Limit{Rate: 5, Burst: 10}) ||
		cfg.Typing.User != (Limit{Rate: 5, Burst: 10}) || cfg.Joins.User != (Limit{}) {
		t.Fatalf("parsed %+v", cfg)
	}
	if err := ParseLimits("off", &cfg); err != nil || cfg.Changes.User.Rate < 1e6 {
		t.Fatalf("off: %v %+v", err, cfg.Changes)
	}
	for _, bad := range []string{"messages=10", "messages=x/2", "messages=1/0", "messages=-1/5", "kisses=1/1"} {
		if err := ParseLimits(bad, &cfg); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}
