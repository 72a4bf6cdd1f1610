package api

import (
	"fmt"
	"testing"
)

// TestRefusedRequestsMakeNoConnectionBuckets: a user over its rate who sends a new made-up
// connection id with every request must not make the limiter keep a bucket for each.
func TestRefusedRequestsMakeNoConnectionBuckets(t *testing.T) {
	l := newLimiter(LimitsConfig{})
	l.cfg.setDefaults()
	for i := range 10_000 {
		l.allow(actTyping, "u", fmt.Sprint("c_FORGED", i))
	}
	if n := len(l.buckets); n > 100 {
		t.Fatalf("%d buckets after 10,000 requests of one user, nearly all refused", n)
	}
}
