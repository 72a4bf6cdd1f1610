package api_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"switchboard/api"
	"switchboard/db"
	"testing"
)

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

// The events published and delivered counters on /metrics grow with the traffic they count.
func TestMetricsEventCountersMove(t *testing.T) {
	e := newEnv(t, db.SQLite)
	alice := e.token("alice", "Alice")
	streams := []client{e.dialSSE(alice, "rooms=general"), e.dialWS(e.token("bob", "Bob"), "rooms=general")}
	counters := func() (published, delivered float64) {
		values := metricValues(t, e.mustDo(http.StatusOK, "GET", "/metrics", "", nil))
		return values["switchboard_events_published_total"], values["switchboard_events_delivered_total"]
	}
	published, delivered := counters()
	const posts = 3
	for i := range posts {
		e.post(alice, "general", fmt.Sprint("m", i))
	}
	for _, s := range streams {
		for range posts {
			nextOf(t, s, "chat_message")
		}
	}
	published2, delivered2 := counters()
	if published2-published < posts || delivered2-delivered < float64(posts*len(streams)) {
		t.Fatalf("after %d messages to %d subscribers: published %v → %v, delivered %v → %v",
			posts, len(streams), published, published2, delivered, delivered2)
	}
	// Every message was stored by some transaction, timed; the pool reports its connections.
	body := e.mustDo(http.StatusOK, "GET", "/metrics", "", nil)
	values := metricValues(t, body)
	if got := values["switchboard_message_commit_size_sum"]; got < posts {
		t.Errorf("message transactions stored %v messages, want at least %d", got, posts)
	}
	if values["switchboard_message_commit_seconds_count"] < 1 || values["switchboard_message_commit_seconds_sum"] <= 0 {
		t.Errorf("no message transaction was timed: count %v, sum %v",
			values["switchboard_message_commit_seconds_count"], values["switchboard_message_commit_seconds_sum"])
	}
	if !strings.Contains(string(body), `go_sql_max_open_connections{db_name="switchboard"}`) {
		t.Error("/metrics lacks the database pool's statistics (go_sql_*)")
	}
}

// metricValues reads the unlabelled series of a Prometheus text exposition.
func metricValues(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[name] = v
	}
	return out
}

// With --metrics-token set, the operator's views ask for it; without, they are public.
func TestMetricsTokenGuardsTheOperatorViews(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.MetricsToken = "scrape-me" }))
	for _, path := range []string{"/metrics", "/ws/health"} {
		for _, c := range []struct {
			token string
			want  int
		}{{"", http.StatusUnauthorized}, {"wrong", http.StatusUnauthorized}, {e.token("alice", "Alice"), http.StatusUnauthorized}, {"scrape-me", http.StatusOK}} {
			if status, out := e.do("GET", path, c.token, nil); status != c.want {
				t.Errorf("GET %s with token %q: %d %.80s, want %d", path, c.token, status, out, c.want)
			}
		}
	}
	open := newEnv(t, db.SQLite)
	if status, _ := open.do("GET", "/metrics", "", nil); status != http.StatusOK {
		t.Errorf("GET /metrics without a configured token: %d, want 200", status)
	}
}
