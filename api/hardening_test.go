package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"switchboard/api"
	"switchboard/db"
	"switchboard/db/dbtest"
)

// A flood from one user is rate-limited — 429 with Retry-After on REST, rate_limited faults and
// then 1008 on WebSocket — while another user's messages go through and arrive.
func TestFloodIsRateLimitedWhileOthersGoOn(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) {
			a.Limits = unlimited()
			a.Limits.Messages = api.ActionLimit{User: api.Limit{Rate: 2, Burst: 5}, Conn: api.Limit{Rate: 2, Burst: 5}}
			a.Limits.AbuseFaults = 10
		}))
		flooder, bob := e.token("flood", "Flood"), e.token("bob", "Bob")
		watcher := e.dialSSE(e.token("watch", "Watch"), "rooms=general")
		var limited int
		for i := range 10 {
			status, body := e.do("POST", "/api/rooms/general/messages", flooder, map[string]string{"content": "spam"})
			if status == http.StatusTooManyRequests {
				limited++
				if !strings.Contains(string(body), `"code":"rate_limited"`) {
					t.Fatalf("429 body %s", body)
				}
			} else if status != http.StatusCreated {
				t.Fatalf("post %d: %d %s", i, status, body)
			}
		}
		if limited < 4 {
			t.Fatalf("only %d of 10 burst posts were limited", limited)
		}
		res := rawRequest(t, e, "POST", "/api/rooms/general/messages", flooder, `{"content":"more"}`)
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
			t.Fatalf("status %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
		}
		// Over WebSocket: rate_limited faults first, then the socket is closed for sustained abuse.
		ws := e.dialWS(flooder, "")
		spam := []byte(`{"type":"chat_message","room":"general","data":{"content":"spam"}}`)
		for range 40 { // the server may close the socket before all are sent
			if err := ws.ws.Write(context.Background(), websocket.MessageText, spam); err != nil {
				break
			}
		}
		faults := 0
		for code := websocket.StatusCode(-1); code == -1; {
			select {
			case ev := <-ws.events:
				if ev.Type == "fault" && jsonHas(t, ev.Data, "code", "rate_limited") {
					faults++
				}
			case err := <-ws.closed:
				code = websocket.CloseStatus(err)
				if code != websocket.StatusPolicyViolation {
					t.Fatalf("flooding WebSocket closed with %v (%d), want 1008", err, code)
				}
			case <-time.After(wait):
				t.Fatal("the flooding WebSocket is still open")
			}
		}
		if faults == 0 {
			t.Fatal("the WebSocket was closed without a rate_limited fault first")
		}
		// Bob is not affected while the flood goes on: his posts are accepted and delivered.
		flooding := make(chan struct{})
		floodDone := make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-flooding:
					floodDone <- n
					return
				default:
				}
				if status, _ := e.do("POST", "/api/rooms/general/messages", flooder, map[string]string{"content": "spam"}); status == http.StatusTooManyRequests {
					n++
				}
			}
		}()
		for _, c := range []string{"bob 1", "bob 2", "bob 3"} {
			e.post(bob, "general", c)
		}
		close(flooding)
		if n := <-floodDone; n == 0 {
			t.Fatal("the flood during bob's posts was never limited")
		}
		var got []string
		for len(got) < 3 {
			if m := nextOf(t, watcher, "chat_message").message(t); m.UserID == "bob" {
				got = append(got, m.Content)
			}
		}
		if strings.Join(got, ",") != "bob 1,bob 2,bob 3" {
			t.Fatalf("bob's messages %v", got)
		}
	})
}

func rawRequest(t *testing.T, e *env, method, path, token, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// Each forged, expired or wrong-algorithm token is refused with 401 and a reason.
func TestForgedTokensAreRefused(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rotated := []byte("the-new-secret-that-replaces-the-old-one")
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) {
		a.Auth.Issuer, a.Auth.Audience = "https://id.example", "switchboard"
		a.Auth.Keys = []api.Key{{ID: "2026-11", Alg: "HS256", Material: rotated}, {ID: "ed", Alg: "EdDSA", Material: edPub}}
	}))
	claims := func(mod func(*jwt.RegisteredClaims)) jwt.Claims {
		c := api.Claims{Name: "Alice"}
		c.Subject, c.Issuer, c.Audience = "alice", "https://id.example", jwt.ClaimStrings{"switchboard"}
		c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
		if mod != nil {
			mod(&c.RegisteredClaims)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, kid string, c jwt.Claims) string {
		tok := jwt.NewWithClaims(m, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	unsigned, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	pubDER := rsaKey.PublicKey.N.Bytes()
	cases := []struct {
		name, token, code string
		ok                bool
	}{
		{"valid, default key", sign(jwt.SigningMethodHS256, testSecret, "", claims(nil)), "", true},
		{"valid, rotated key by kid", sign(jwt.SigningMethodHS256, rotated, "2026-11", claims(nil)), "", true},
		{"valid, EdDSA by kid", sign(jwt.SigningMethodEdDSA, edPriv, "ed", claims(nil)), "", true},
		{"alg none", unsigned, "invalid_token", false},
		{"wrong algorithm (HS384)", sign(jwt.SigningMethodHS384, testSecret, "", claims(nil)), "invalid_token", false},
		{"RS256 with no RSA key configured", sign(jwt.SigningMethodRS256, rsaKey, "", claims(nil)), "invalid_token", false},
		{"HS256 keyed with public key bytes", sign(jwt.SigningMethodHS256, pubDER, "", claims(nil)), "invalid_token", false},
		{"signed by another key", sign(jwt.SigningMethodHS256, []byte("someone-elses-secret-someone-elses!!"), "", claims(nil)), "invalid_token", false},
		{"kid of another algorithm", sign(jwt.SigningMethodHS256, rotated, "ed", claims(nil)), "invalid_token", false},
		{"unknown kid", sign(jwt.SigningMethodHS256, rotated, "2020-01", claims(nil)), "invalid_token", false},
		{"expired", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		})), "token_expired", false},
		{"no exp", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil })), "invalid_token", false},
		{"not valid yet", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) {
			c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
		})), "invalid_token", false},
		{"other issuer", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Issuer = "https://evil.example" })), "invalid_token", false},
		{"other audience", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"billing"} })), "invalid_token", false},
		{"no sub", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = "" })), "invalid_token", false},
		{"sub too long", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = strings.Repeat("u", 129) })), "invalid_token", false},
		{"longest sub", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = strings.Repeat("u", 128) })), "", true},
		{"the API key's sub", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = "api-key" })), "invalid_token", false},
		{"NUL in sub", sign(jwt.SigningMethodHS256, testSecret, "", claims(func(c *jwt.RegisteredClaims) { c.Subject = "a\x00b" })), "invalid_token", false},
		{"garbage", "eyJhbGciOi.not-a-token", "invalid_token", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := e.do("GET", "/api/notifications/unread-count", c.token, nil)
			if c.ok {
				if status != http.StatusOK {
					t.Fatalf("a valid token was refused: %d %s", status, body)
				}
				return
			}
			var eb errorBody
			decode(t, body, &eb)
			if status != http.StatusUnauthorized || eb.Error.Code != c.code || eb.Error.Message == "" {
				t.Fatalf("%d %s, want 401 %s", status, body, c.code)
			}
			if strings.Contains(strings.ToLower(string(body)), "hmac") || strings.Contains(string(body), "crypto") {
				t.Fatalf("the refusal leaks detail: %s", body)
			}
		})
	}
}

// pgProxy is a TCP proxy to the test PostgreSQL that can cut every connection and refuse new
// ones, as a database outage would, and then recover.
type pgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newPGProxy(t *testing.T, target string) *pgProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

// cut drops every connection and refuses new ones until restore.
func (p *pgProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *pgProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// With the database down, live streams keep running and ephemeral events keep flowing; writes
// answer 503 with Retry-After and /readyz says so; when it returns, the server recovers by
// itself and new writes are delivered.
func TestDatabaseOutage(t *testing.T) {
	direct := dbtest.FreshPostgres(t)
	u, _ := url.Parse(direct)
	proxy := newPGProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	cfg := dbtest.Config(t, db.Postgres)
	cfg.URL = u.String()
	store, err := db.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := startEnv(t, store)
	alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
	aliceSSE := e.dialSSE(alice, "rooms=general")
	bobWS := e.dialWS(bob, "rooms=general")
	e.mustDo(http.StatusOK, "GET", "/readyz", "", nil)

	proxy.cut()
	res := rawRequest(t, e, "POST", "/api/rooms/general/messages", alice, `{"content":"during the outage"}`)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a write during the outage: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if status, _ := e.do("GET", "/readyz", "", nil); status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the outage: %d", status)
	}
	// Ephemeral events still flow over the live streams, both ways.
	e.mustDo(http.StatusNoContent, "POST", "/api/rooms/general/typing", alice, map[string]any{"typing": true})
	if ev := nextOf(t, bobWS, "user_typing_start"); !jsonHas(t, ev.Data, "user_id", "alice") {
		t.Fatalf("bob got %s", ev.Data)
	}
	bobWS.send(t, map[string]string{"type": "typing_start", "room": "general"})
	if ev := nextOf(t, aliceSSE, "user_typing_start"); !jsonHas(t, ev.Data, "user_id", "bob") {
		t.Fatalf("alice got %s", ev.Data)
	}
	bobWS.send(t, map[string]any{"type": "chat_message", "room": "general", "data": map[string]string{"content": "x"}})
	if ev := nextOf(t, bobWS, "fault"); !jsonHas(t, ev.Data, "code", "unavailable") {
		t.Fatalf("an in-band write during the outage: %s", ev.Data)
	}

	proxy.restore()
	waitUntil(t, "/readyz recovering", func() bool { status, _ := e.do("GET", "/readyz", "", nil); return status == http.StatusOK })
	e.post(alice, "general", "after the outage")
	for name, c := range map[string]client{"sse": aliceSSE, "ws": bobWS} {
		if m := nextOf(t, c, "chat_message").message(t); m.Content != "after the outage" {
			t.Fatalf("%s got %+v: the message written during the outage was not refused", name, m)
		}
	}
}

// /metrics exposes the series operators watch, and they move with traffic.
func TestMetricsExposeTheSeries(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) {
		a.Limits = unlimited()
		a.Limits.Typing = api.ActionLimit{User: api.Limit{Rate: 1, Burst: 1}, Conn: api.Limit{Rate: 1, Burst: 1}}
	}))
	alice := e.token("alice", "Alice")
	stream := e.dialSSE(alice, "rooms=general")
	e.post(alice, "general", "measure me")
	nextOf(t, stream, "chat_message")
	e.do("POST", "/api/rooms/general/typing", alice, `{"typing":true}`)
	e.do("POST", "/api/rooms/general/typing", alice, `{"typing":true}`) // limited
	e.do("GET", "/events", "not-a-token", nil)
	for _, m := range []string{"BREW", "X1", "X2"} { // invented methods share one series
		e.do(m, "/healthz", "", nil)
	}
	body := string(e.mustDo(http.StatusOK, "GET", "/metrics", "", nil))
	for _, want := range []string{
		`switchboard_connections{transport="sse"} 1`,
		`switchboard_subscriptions 3`,
		`switchboard_events_published_total`,
		`switchboard_events_delivered_total`,
		`switchboard_slow_disconnects_total 0`,
		`switchboard_resumes_total{result="recovered"}`,
		`switchboard_resumes_total{result="reset"}`,
		`switchboard_delivery_latency_seconds_count`,
		`switchboard_rate_limited_total{action="typing"} 1`,
		`switchboard_database_errors_total 0`,
		`switchboard_auth_failures_total{code="invalid_token"} 1`,
		`switchboard_http_request_duration_seconds_count{code="2xx",method="POST",route="/api/rooms/:room/messages"} 1`,
		`switchboard_http_request_duration_seconds_count{code="4xx",method="other",route="/*"} 3`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, "switchboard_delivery_latency_seconds_count 0") {
		t.Error("no delivery latency was observed")
	}
}

// CORS admits the configured origins only, with credentials, on REST and SSE.
func TestCORSAdmitsConfiguredOrigins(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.CORSOrigins = []string{"https://app.example"} }))
	for origin, allowed := range map[string]bool{"https://app.example": true, "https://evil.example": false} {
		req, _ := http.NewRequest("OPTIONS", e.base+"/api/rooms/general/messages", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := res.Header.Get("Access-Control-Allow-Origin")
		if allowed && (got != origin || res.Header.Get("Access-Control-Allow-Credentials") != "true") {
			t.Fatalf("preflight from %s: allow-origin %q", origin, got)
		}
		if !allowed && got != "" {
			t.Fatalf("preflight from %s was allowed", origin)
		}
	}
}

// One user may hold only so many connections; the next is refused with 429.
func TestConnectionsPerUserAreCapped(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.Limits.MaxConnsPerUser = 2 }))
	alice := e.token("alice", "Alice")
	e.dialSSE(alice, "")
	e.dialWS(alice, "")
	status, body := e.do("GET", "/events", alice, nil)
	if status != http.StatusTooManyRequests || !strings.Contains(string(body), "too_many_connections") {
		t.Fatalf("a third connection: %d %s", status, body)
	}
	e.dialSSE(e.token("bob", "Bob"), "") // others are not affected
}

// Joins, leaves and closing connections share a per-user limit, checked before any lookup
// that would ask the other nodes of a cluster.
func TestJoinsAndClosesAreRateLimited(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) {
			a.Limits = unlimited()
			a.Limits.Joins = api.ActionLimit{User: api.Limit{Rate: 0.01, Burst: 3}, Conn: api.Limit{Rate: 0.01, Burst: 3}}
		}))
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "")
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/join", alice, map[string]string{"connection_id": stream.conn.ConnectionID})
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/leave", alice, map[string]string{"connection_id": stream.conn.ConnectionID})
		e.mustDo(http.StatusNotFound, "DELETE", "/api/connections/c_AAAAAAAAAAAAAAAAAAAAAAAA", alice, nil)
		if status, body := e.do("DELETE", "/api/connections/"+stream.conn.ConnectionID, alice, nil); status != http.StatusTooManyRequests {
			t.Fatalf("a fourth join, leave or close: %d %s", status, body)
		}
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/join", e.token("bob", "Bob"), map[string]string{"connection_id": e.dialSSE(e.token("bob", "Bob"), "").conn.ConnectionID})
	})
}

// TestRoomChangesAreRateLimited: creating rooms, changing them and their members, and read
// receipts are stored and announced to others: one user cannot flood every connection (and
// the replay log of "all") with them. Another user is not held back.
func TestRoomChangesAreRateLimited(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) {
		a.Limits = unlimited()
		a.Limits.Changes = api.ActionLimit{User: api.Limit{Rate: 0.01, Burst: 3}}
	}))
	spammer := e.token("spammer", "S")
	for i := range 3 {
		e.mustDo(http.StatusCreated, "POST", "/api/rooms", spammer, map[string]any{"name": fmt.Sprint("spam ", i)})
	}
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/rooms"}, {"PATCH", "/api/rooms/spam-0"}, {"POST", "/api/rooms/spam-0/members"},
		{"DELETE", "/api/rooms/spam-0/members/x"}, {"POST", "/api/rooms/spam-0/read"}, {"PATCH", "/api/notifications/mark-all-read"},
	} {
		if status, body := e.do(r.method, r.path, spammer, map[string]any{"name": "more", "user_id": "x"}); status != http.StatusTooManyRequests {
			t.Fatalf("%s %s past the limit: %d %s", r.method, r.path, status, body)
		}
	}
	e.mustDo(http.StatusCreated, "POST", "/api/rooms", e.token("bob", "Bob"), map[string]any{"name": "Bob's"})
}
