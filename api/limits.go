package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Limit is a token bucket: Rate actions per second on average, Burst at once.
type Limit struct {
	Rate  float64
	Burst int
}

// ActionLimit limits one kind of action per user (across all their connections and REST calls)
// and per connection.
type ActionLimit struct {
	User Limit
	Conn Limit
}

// LimitsConfig bounds what one client may do. Zero values select the defaults.
type LimitsConfig struct {
	Messages ActionLimit // chat messages, edits and publishes (default 10/s burst 20 per user; 5/s burst 10 per connection)
	Typing   ActionLimit // typing indicators (default 5/s burst 10; 3/s burst 6)
	Joins    ActionLimit // joins, leaves and closing a connection (default 20/s burst 50; 10/s burst 30)
	Presence ActionLimit // presence updates (default 2/s burst 5; 1/s burst 3)
	// Changes are room creations and changes, member changes, read receipts, message
	// deletions and marking notifications read: stored, most of them announced to others
	// (default 2/s burst 20 per user).
	Changes ActionLimit
	// Reads are REST reads (GET): room lists, history, members, notifications — each a
	// database query (default 20/s burst 40 per user).
	Reads ActionLimit
	// Rooms are room creations, explicit (POST /api/rooms) or by naming a new key in a stream,
	// join or post (default 0.2/s burst 10 per user: ten at once, then one every 5 s).
	Rooms ActionLimit

	MaxRoomsPerUser int // rooms one user may have created and not archived (default 100)
	// MaxRequestsPerUser is how many REST requests one user may have under way at once, so
	// that one user holds at most that many database connections (default 8; the PostgreSQL
	// pool has 32).
	MaxRequestsPerUser int
	MaxConnsPerUser    int // live connections one user may hold (default 20)
	MaxConns           int // live connections on this node (default 50,000)
	// MaxConnsPerIP bounds what one client address may hold open: requests under way and
	// streams (per forwarded address with TrustProxy) and, without TrustProxy, TCP connections
	// (default 256; negative: no limit).
	MaxConnsPerIP int
	// AbuseFaults is how many rate-limit faults within AbuseWindow make a WebSocket close with
	// 1008 (default 30 in 10 s).
	AbuseFaults int
	AbuseWindow time.Duration
}

func (c *LimitsConfig) setDefaults() {
	def := func(a *ActionLimit, user, conn Limit) {
		if a.User.Rate <= 0 {
			a.User = user
		}
		if a.Conn.Rate <= 0 {
			a.Conn = conn
		}
	}
	def(&c.Messages, Limit{10, 20}, Limit{5, 10})
	def(&c.Typing, Limit{5, 10}, Limit{3, 6})
	def(&c.Joins, Limit{20, 50}, Limit{10, 30})
	def(&c.Presence, Limit{2, 5}, Limit{1, 3})
	def(&c.Changes, Limit{2, 20}, Limit{2, 20})
	def(&c.Rooms, Limit{0.2, 10}, Limit{0.2, 10})
	def(&c.Reads, Limit{20, 40}, Limit{20, 40})
	if c.MaxRequestsPerUser <= 0 {
		c.MaxRequestsPerUser = 8
	}
	if c.MaxRoomsPerUser <= 0 {
		c.MaxRoomsPerUser = 100
	}
	if c.MaxConnsPerUser <= 0 {
		c.MaxConnsPerUser = 20
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 50_000
	}
	if c.MaxConnsPerIP == 0 {
		c.MaxConnsPerIP = 256
	}
	if c.AbuseFaults <= 0 {
		c.AbuseFaults = 30
	}
	if c.AbuseWindow <= 0 {
		c.AbuseWindow = 10 * time.Second
	}
}

// action names a kind of limited action; it labels the rate_limited metric.
type action string

const (
	actMessage  action = "messages"
	actTyping   action = "typing"
	actJoin     action = "joins"
	actPresence action = "presence"
	actChange   action = "changes"
	actRoom     action = "rooms"
	actRead     action = "reads"
)

func (c *LimitsConfig) of(a action) ActionLimit {
	switch a {
	case actMessage:
		return c.Messages
	case actTyping:
		return c.Typing
	case actJoin:
		return c.Joins
	case actChange:
		return c.Changes
	case actRoom:
		return c.Rooms
	case actRead:
		return c.Reads
	}
	return c.Presence
}

// limitedAs is route middleware that limits a route's requests as action a, per user.
func (s *Server) limitedAs(a action) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := s.limit(a, principal(c).ID, ""); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// limitReads is middleware that limits GET requests as reads, per user.
func (s *Server) limitReads(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if m := c.Request().Method; m == http.MethodGet || m == http.MethodHead {
			if err := s.limit(actRead, principal(c).ID, ""); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// limiter keeps one token bucket per (action, user) and (action, connection), dropping buckets
// idle long enough to be full again.
//
// In a cluster each node holds its own buckets, and a user's requests may land on any node: a
// user bucket allows its node's share of the limit — rate and burst divided by the live nodes
// (burst rounded up). A user whose requests are spread over the nodes gets the whole limit
// (plus at most one action per node of rounding); one whose requests all land on one node
// gets that node's share. No shared state is asked on a request's path.
type limiter struct {
	cfg   LimitsConfig
	nodes func() int // live nodes, this one included

	mu      sync.Mutex // guards buckets, swept and faults
	buckets map[string]*bucket
	swept   time.Time
	faults  map[string]*failureWindow // rate-limit faults per WebSocket connection
}

type bucket struct {
	lim   *rate.Limiter
	last  time.Time
	share int // the number of nodes the limit is shared by
}

// newLimiter returns a limiter for cfg; nodes, when set, says how many nodes share each user's
// limits.
func newLimiter(cfg LimitsConfig, nodes func() int) *limiter {
	if nodes == nil {
		nodes = func() int { return 1 }
	}
	return &limiter{cfg: cfg, nodes: nodes, buckets: make(map[string]*bucket), swept: time.Now(), faults: make(map[string]*failureWindow)}
}

// abusive counts a rate-limit fault sent to a connection and reports whether the connection
// has had AbuseFaults of them within AbuseWindow: sustained abuse, not a burst.
func (l *limiter) abusive(connID string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.faults[connID]
	if w == nil || now.Sub(w.start) > l.cfg.AbuseWindow {
		w = &failureWindow{start: now}
		l.faults[connID] = w
	}
	w.count++
	return w.count >= l.cfg.AbuseFaults
}

// allow takes one token for a's user bucket and, when connID is set, its connection bucket. When
// either is empty it returns how long until one is available, taking nothing. A connection's
// bucket is made only once the user's bucket allows, so that made-up connection ids add at
// most as many buckets as the user's rate.
func (l *limiter) allow(a action, userID, connID string) (wait time.Duration) {
	lim := l.cfg.of(a)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	user := l.bucket(string(a)+"\x00u\x00"+userID, lim.User, max(1, l.nodes()), now)
	ru := user.lim.ReserveN(now, 1)
	if wait = ru.DelayFrom(now); wait > 0 || connID == "" {
		if wait > 0 {
			ru.CancelAt(now) // refused: give back what was taken
		}
		return wait
	}
	rc := l.bucket(string(a)+"\x00c\x00"+connID, lim.Conn, 1, now).lim.ReserveN(now, 1) // a connection is on one node
	if wait = rc.DelayFrom(now); wait > 0 {
		ru.CancelAt(now)
		rc.CancelAt(now)
	}
	return wait
}

// bucket returns the bucket under key, made for lim shared by share nodes.
func (l *limiter) bucket(key string, lim Limit, share int, now time.Time) *bucket {
	r, burst := rate.Limit(lim.Rate/float64(share)), (lim.Burst+share-1)/share
	b := l.buckets[key]
	switch {
	case b == nil:
		b = &bucket{lim: rate.NewLimiter(r, burst), share: share}
		l.buckets[key] = b
	case b.share != share: // a node came or went
		b.lim.SetLimitAt(now, r)
		b.lim.SetBurstAt(now, burst)
		b.share = share
	}
	b.last = now
	return b
}

// sweep drops buckets idle for a minute (long enough for any default bucket to refill).
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if now.Sub(b.last) > time.Minute {
			delete(l.buckets, k)
		}
	}
	for k, w := range l.faults {
		if now.Sub(w.start) > l.cfg.AbuseWindow {
			delete(l.faults, k)
		}
	}
}

// limit refuses an action over its rate with 429 and Retry-After. A connID that is no
// connection id of this server counts for the user only (the action then fails to find it).
func (s *Server) limit(a action, userID, connID string) error {
	if !connIDPattern.MatchString(connID) {
		connID = ""
	}
	wait := s.limits.allow(a, userID, connID)
	if wait <= 0 {
		return nil
	}
	s.metrics.rateLimited.WithLabelValues(string(a)).Inc()
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", RetryAfter: secs,
		Message: "too many " + string(a) + " requests; retry in " + strconv.Itoa(secs) + " s"}
}

// ParseLimits reads rate limits as "messages=10/20,typing=5/10,…" (rate per second/burst, per
// user; per connection half of each) into cfg; "off" lifts them (for benchmarks).
func ParseLimits(spec string, cfg *LimitsConfig) error {
	if spec == "" {
		return nil
	}
	if spec == "off" {
		unlimited := ActionLimit{User: Limit{Rate: 1e9, Burst: 1e9}, Conn: Limit{Rate: 1e9, Burst: 1e9}}
		cfg.Messages, cfg.Typing, cfg.Joins, cfg.Presence, cfg.Changes, cfg.Rooms, cfg.Reads = unlimited, unlimited, unlimited, unlimited, unlimited, unlimited, unlimited
		return nil
	}
	for part := range strings.SplitSeq(spec, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		r, b, _ := strings.Cut(value, "/")
		rate, err1 := strconv.ParseFloat(r, 64)
		burst, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || rate <= 0 || burst < 1 {
			return fmt.Errorf("rate limits: %q is not name=rate/burst", part)
		}
		l := ActionLimit{User: Limit{Rate: rate, Burst: burst}, Conn: Limit{Rate: rate / 2, Burst: max(1, burst/2)}}
		switch name {
		case "messages":
			cfg.Messages = l
		case "typing":
			cfg.Typing = l
		case "joins":
			cfg.Joins = l
		case "presence":
			cfg.Presence = l
		case "changes":
			cfg.Changes = l
		case "rooms":
			cfg.Rooms = l
		case "reads":
			cfg.Reads = l
		default:
			return fmt.Errorf("rate limits: unknown action %q (messages, typing, joins, presence, changes, rooms, reads)", name)
		}
	}
	return nil
}
