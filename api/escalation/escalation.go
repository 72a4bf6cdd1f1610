// Package escalation delivers escalated notifications — high and critical ones — from the
// database's outbox to a webhook (an e-mail or push gateway), at least once, with backoff,
// from any node. It knows nothing of HTTP serving: the API records escalations and wakes it.
package escalation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"switchboard/db"
)

// Config says where escalations are delivered and how hard to try. Deliveries are at least
// once: the receiver sees the same Idempotency-Key header on a retry.
type Config struct {
	WebhookURL string        // empty: escalations stay recorded as pending
	Timeout    time.Duration // per attempt (default 10 s)
	Backoff    time.Duration // delay after the first failure, doubling after each (default 1 s)
	MaxBackoff time.Duration // longest delay between attempts (default 10 min)
	Interval   time.Duration // how often due deliveries are looked for (default 1 s)
}

func (c *Config) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Minute
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
}

// Worker delivers the outbox to the webhook.
type Worker struct {
	cfg    Config
	store  *db.DB
	client *http.Client
	kick   chan struct{} // capacity 1: a new escalation is waiting
	log    *slog.Logger
}

// New returns a worker; Run starts it.
func New(cfg Config, store *db.DB, log *slog.Logger) *Worker {
	cfg.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{cfg: cfg, store: store, client: &http.Client{Timeout: cfg.Timeout},
		kick: make(chan struct{}, 1), log: log}
}

// Wake makes the worker look for due deliveries now: an escalation was recorded.
func (e *Worker) Wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// ErrNoWebhook refuses a retry: without a webhook, escalations are recorded but never delivered.
var ErrNoWebhook = errors.New("no escalation webhook is configured")

// Delivering reports whether escalations are delivered at all: a webhook is configured.
func (e *Worker) Delivering() bool { return e.cfg.WebhookURL != "" }

// Retry makes a pending escalation due now and wakes the worker: this node's worker (or, in a
// cluster, whichever node's looks first) attempts it within moments, whatever its backoff said.
// The attempt counts like any other. It fails with ErrNoWebhook, or as db.RetryEscalation does.
func (e *Worker) Retry(ctx context.Context, id string) (db.Escalation, error) {
	if !e.Delivering() {
		return db.Escalation{}, ErrNoWebhook
	}
	esc, err := e.store.RetryEscalation(ctx, id)
	if err != nil {
		return esc, err
	}
	e.Wake()
	return esc, nil
}

// Run delivers due escalations until ctx ends. Without a webhook it does nothing.
func (e *Worker) Run(ctx context.Context) {
	if e.cfg.WebhookURL == "" {
		return
	}
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	for {
		for e.deliverDue(ctx) {
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.kick:
		}
	}
}

// deliverDue attempts one batch of due deliveries; it reports whether a full batch was taken.
func (e *Worker) deliverDue(ctx context.Context) bool {
	// Deliveries of a batch are sequential: its lease covers them all at their timeout, so that
	// a node that dies mid-batch delays them by at most that much.
	const batch = 10
	due, err := e.store.ClaimEscalations(ctx, batch, e.cfg.Timeout*(batch+1))
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("claiming escalations", "err", err)
		}
		return false
	}
	for _, esc := range due {
		if err := e.deliver(ctx, esc); err != nil {
			delay := e.backoff(esc.Attempts + 1)
			if ferr := e.store.EscalationFailed(context.WithoutCancel(ctx), esc.ID, time.Now().Add(delay), err.Error()); ferr != nil {
				e.log.Warn("recording a failed escalation", "id", esc.ID, "err", ferr)
			}
			continue
		}
		if err := e.store.EscalationDelivered(context.WithoutCancel(ctx), esc.ID); err != nil {
			e.log.Warn("recording a delivered escalation", "id", esc.ID, "err", err)
		}
	}
	return len(due) == batch
}

func (e *Worker) deliver(ctx context.Context, esc db.Escalation) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.WebhookURL, bytes.NewReader([]byte(esc.Payload)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", esc.ID)
	req.Header.Set("User-Agent", "switchboard-escalation")
	res, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", res.Status)
	}
	return nil
}

// backoff is the delay before attempt n+1: exponential from Backoff, capped, with ±20 % jitter.
func (e *Worker) backoff(attempts int) time.Duration {
	d := e.cfg.Backoff
	for i := 1; i < attempts && d < e.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, e.cfg.MaxBackoff)
	return d - d/5 + rand.N(d*2/5+1)
}
