package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/r3labs/sse/v2"
	"gopkg.in/cenkalti/backoff.v1"

	"switchboard/api"
	"switchboard/api/apitest"
	"switchboard/api/auth"
	"switchboard/db"
	"switchboard/db/dbtest"
	"switchboard/realtime"
)

// wait bounds every wait for an event in these tests. Tests synchronise on events; the bound
// only turns a hang into a failure.
const wait = 10 * time.Second

var testSecret = []byte("test-secret-test-secret-test-secret!")

// env is one Switchboard server over real sockets, on one database, started the way the
// binary starts it (api.Start).
type env struct {
	t    *testing.T
	url  string // the server's own URL
	base string // where clients send requests: the server, or a proxy in front of it
	hub  *realtime.Hub
	db   *db.DB
	api  *api.Server
	stop func() // stops the server and its background work, as a process exit would
	// shutdown is stop, returning what Running.Shutdown did; only its first call stops.
	shutdown func() error
	// cluster is the node's bus when it runs in a cluster; closing it first makes stop a
	// crash as the other nodes see it: no farewell reaches them.
	cluster *api.Cluster
	// watch checks every request, answer and event of the test against the API's
	// descriptions (openapi.json, events.schema.json); what does not match fails the test.
	watch *apitest.Watch
}

// contract is the API's descriptions, loaded once.
var contract = sync.OnceValues(func() (*apitest.Contract, error) {
	fsys := api.Descriptions()
	doc, err := fs.ReadFile(fsys, "openapi.json")
	if err != nil {
		return nil, err
	}
	events, err := fs.ReadFile(fsys, "events.schema.json")
	if err != nil {
		return nil, err
	}
	return apitest.NewContract(doc, events)
})

// watchContract checks t's traffic against the API's descriptions and reports what does not
// match when t ends, after its servers have stopped (register it before them).
func watchContract(t *testing.T) *apitest.Watch {
	t.Helper()
	c, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	w := c.Watch()
	t.Cleanup(func() {
		for _, v := range w.Violations() {
			t.Errorf("contract: %s", v)
		}
	})
	return w
}

// envConfig is a test server's configuration.
type envConfig struct {
	setup            api.Setup
	smallSendBuffers bool
}

// option adjusts a test server's configuration.
type option func(*envConfig)

func withHub(f func(*realtime.Config)) option { return func(c *envConfig) { f(&c.setup.Hub) } }
func withAPI(f func(*api.Config)) option      { return func(c *envConfig) { f(&c.setup.API) } }
func withSetup(f func(*api.Setup)) option     { return func(c *envConfig) { f(&c.setup) } }

// ownDatabase makes the server open the database cfg itself, as the binary does, instead of
// using the one startEnv was given (which must be nil).
func ownDatabase(cfg db.Config) option {
	return func(c *envConfig) { c.setup.DB, c.setup.Store = cfg, nil }
}

// inCluster makes the server a node of the cluster on the PostgreSQL database at url.
func inCluster(url string) option {
	return func(c *envConfig) { c.setup.Cluster, c.setup.ClusterListenURL = "auto", url }
}

// smallSendBuffers makes the server's sockets hold only a few KiB unsent, as on a slow link, so
// that a client that stops reading stalls the server's writes at once instead of after the
// megabytes a loopback socket otherwise buffers.
func smallSendBuffers(c *envConfig) { c.smallSendBuffers = true }

// forEachDB runs fn against a server on SQLite and one on PostgreSQL.
func forEachDB(t *testing.T, fn func(t *testing.T, kind db.Kind)) {
	for _, kind := range dbtest.Kinds {
		t.Run(string(kind), func(t *testing.T) { fn(t, kind) })
	}
}

func newEnv(t *testing.T, kind db.Kind, opts ...option) *env {
	t.Helper()
	return startEnv(t, dbtest.Open(t, kind), opts...)
}

// startEnv starts a server on an open database, which outlives it (or, with ownDatabase, on
// one it opens and closes itself).
func startEnv(t *testing.T, store *db.DB, opts ...option) *env {
	t.Helper()
	cfg := envConfig{setup: api.Setup{Addr: "127.0.0.1:0", Store: store, Cluster: "off",
		API: api.Config{Auth: auth.Config{Secret: testSecret}, PollTimeout: 5 * time.Second, Limits: unlimited(),
			DBTimeout: dbtest.TestTimeout},
		Hub: realtime.Config{Heartbeat: time.Hour}}}
	for _, o := range opts {
		o(&cfg)
	}
	watch := watchContract(t)
	if mw := cfg.setup.Middleware; mw != nil {
		cfg.setup.Middleware = func(h http.Handler) http.Handler { return watch.Middleware(mw(h)) }
	} else {
		cfg.setup.Middleware = watch.Middleware
	}
	if cfg.smallSendBuffers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg.setup.Listener = sndbufListener{ln}
	}
	r, err := api.Start(context.Background(), cfg.setup)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, url: r.URL, base: r.URL, hub: r.Hub, db: r.DB, api: r.API, cluster: r.Cluster, watch: watch}
	e.shutdown = sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return r.Shutdown(ctx)
	})
	e.stop = func() { e.shutdown() }
	t.Cleanup(e.stop)
	return e
}

// via returns a copy of e whose clients go through the proxy at base.
func (e *env) via(base string) *env {
	c := *e
	c.base = base
	return &c
}

// waitUntil polls cond until it holds; for state that no event announces.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// token returns a valid token for a user.
func (e *env) token(sub, name string, roles ...string) string {
	e.t.Helper()
	return e.tokenWith(auth.Claims{Name: name, Roles: roles}, sub)
}

// admin returns a token with every administrative permission.
func (e *env) admin(sub string) string {
	e.t.Helper()
	return e.tokenWith(auth.Claims{Name: sub, Roles: []string{"admin"}, Permissions: []string{api.PermAdminConnections,
		api.PermSendNotifications, api.PermSendAnnouncements, api.PermPublish}}, sub)
}

// tokenWith returns a token with the given claims for sub.
func (e *env) tokenWith(c auth.Claims, sub string) string {
	e.t.Helper()
	c.Subject = sub
	tok, _, err := auth.IssueToken(testSecret, c, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// tokenFor returns a token for sub that expires after ttl (negative: already expired).
func (e *env) tokenFor(sub string, ttl time.Duration) string {
	e.t.Helper()
	var c auth.Claims
	c.Subject = sub
	tok, _, err := auth.IssueToken(testSecret, c, ttl)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// do sends a REST request with a JSON body (any string, for bad input) and returns the status
// and body.
func (e *env) do(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.base+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out
}

// mustDo is do that fails the test unless the status is want.
func (e *env) mustDo(want int, method, path, token string, body any) []byte {
	e.t.Helper()
	status, out := e.do(method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, out)
	}
	return out
}

// post posts a chat message over REST and returns it.
func (e *env) post(token, room, content string) message {
	e.t.Helper()
	var m message
	decode(e.t, e.mustDo(http.StatusCreated, "POST", "/api/rooms/"+room+"/messages", token,
		map[string]string{"content": content}), &m)
	return m
}

func decode(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

// envelope is an event as clients see it.
type envelope struct {
	ID   string          `json:"id"`
	Type string          `json:"type"`
	Room string          `json:"room"`
	Data json.RawMessage `json:"data"`
	TS   string          `json:"ts"`
}

type message struct {
	ID       string `json:"id"`
	Room     string `json:"room"`
	Seq      uint64 `json:"seq"`
	UserID   string `json:"user_id"`
	UserName string `json:"user_name"`
	Content  string `json:"content"`
	ClientID string `json:"client_id"`
}

type connected struct {
	Cursor       string   `json:"-"` // the id of the connected event
	ConnectionID string   `json:"connection_id"`
	UserID       string   `json:"user_id"`
	Transport    string   `json:"transport"`
	Rooms        []string `json:"rooms"`
	Resumed      bool     `json:"resumed"`
}

func (ev envelope) message(t testing.TB) message {
	t.Helper()
	var m message
	decode(t, ev.Data, &m)
	return m
}

// client is any live connection under test: it yields envelopes in arrival order.
type client interface {
	next(t testing.TB) envelope
}

// nextOf returns the next envelope of one of the given types, skipping others.
func nextOf(t testing.TB, c client, types ...string) envelope {
	t.Helper()
	for {
		ev := c.next(t)
		for _, typ := range types {
			if ev.Type == typ {
				return ev
			}
		}
	}
}

// connectedOf waits for the connected event and returns its data.
func connectedOf(t testing.TB, c client) connected {
	t.Helper()
	ev := nextOf(t, c, "connected")
	var d connected
	decode(t, ev.Data, &d)
	d.Cursor = ev.ID
	return d
}

// sseClient reads a stream with r3labs/sse, the way a third-party Go client would.
type sseClient struct {
	events chan *sse.Event
	done   chan error
	cancel context.CancelFunc
	conn   connected
}

// dialSSE opens an SSE stream and waits for its connected event.
func (e *env) dialSSE(token, query string, headers ...string) *sseClient {
	e.t.Helper()
	c := e.openSSE(token, query, headers...)
	c.conn = connectedOf(e.t, c)
	return c
}

// openSSE opens an SSE stream without waiting for anything.
func (e *env) openSSE(token, query string, headers ...string) *sseClient {
	e.t.Helper()
	u := e.base + "/events?" + query
	cl := sse.NewClient(u)
	cl.Headers["Authorization"] = "Bearer " + token
	for i := 0; i+1 < len(headers); i += 2 {
		cl.Headers[headers[i]] = headers[i+1]
	}
	cl.ReconnectStrategy = backoff.WithMaxTries(backoff.NewConstantBackOff(time.Millisecond), 1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &sseClient{events: make(chan *sse.Event, 1024), done: make(chan error, 1), cancel: cancel}
	go func() {
		c.done <- cl.SubscribeRawWithContext(ctx, func(m *sse.Event) {
			// r3labs hands on what it had read when the stream breaks off as one more event,
			// cut short: a stream cancelled mid-event (at the test's end) is no violation.
			if len(m.Data) > 0 && ctx.Err() == nil {
				e.watch.CheckEvent(m.Data)
			}
			c.events <- m
		})
	}()
	e.t.Cleanup(cancel)
	return c
}

func (c *sseClient) next(t testing.TB) envelope {
	t.Helper()
	select {
	case m := <-c.events:
		if len(m.Data) == 0 {
			return c.next(t) // retry: alone
		}
		var ev envelope
		decode(t, m.Data, &ev)
		if string(m.Event) != ev.Type {
			t.Fatalf("SSE event field %q but envelope type %q", m.Event, ev.Type)
		}
		if string(m.ID) != ev.ID && ev.ID != "" {
			t.Fatalf("SSE id %q but envelope id %q", m.ID, ev.ID)
		}
		return ev
	case err := <-c.done:
		t.Fatalf("SSE stream ended: %v", err)
	case <-time.After(wait):
		t.Fatalf("no SSE event within %s", wait)
	}
	panic("unreachable")
}

// ended waits for the stream to end and returns the events that were still queued.
func (c *sseClient) ended(t testing.TB) []envelope {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(wait):
		t.Fatalf("SSE stream still open after %s", wait)
	}
	var rest []envelope
	for {
		select {
		case m := <-c.events:
			if len(m.Data) == 0 {
				continue
			}
			var ev envelope
			decode(t, m.Data, &ev)
			rest = append(rest, ev)
		default:
			return rest
		}
	}
}

// wsClient is a coder/websocket client.
type wsClient struct {
	ws     *websocket.Conn
	events chan envelope
	closed chan error
	conn   connected
}

// dialWS opens a WebSocket and waits for its connected event.
func (e *env) dialWS(token, query string) *wsClient {
	e.t.Helper()
	c, err := e.openWS(token, query)
	if err != nil {
		e.t.Fatalf("dialing WebSocket: %v", err)
	}
	c.conn = connectedOf(e.t, c)
	return c
}

func (e *env) openWS(token, query string) (*wsClient, error) {
	u := "ws" + strings.TrimPrefix(e.base, "http") + "/ws?" + query
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		return nil, err
	}
	c := &wsClient{ws: ws, events: make(chan envelope, 1024), closed: make(chan error, 1)}
	go func() {
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				c.closed <- err
				return
			}
			var ev envelope
			if err := json.Unmarshal(b, &ev); err != nil {
				c.closed <- fmt.Errorf("undecodable message %q: %w", b, err)
				return
			}
			e.watch.CheckEvent(b)
			c.events <- ev
		}
	}()
	e.t.Cleanup(func() { ws.CloseNow() })
	return c, nil
}

func (c *wsClient) send(t testing.TB, v any) {
	t.Helper()
	var b []byte
	switch m := v.(type) {
	case string:
		b = []byte(m)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("writing to WebSocket: %v", err)
	}
}

func (c *wsClient) next(t testing.TB) envelope {
	t.Helper()
	select {
	case ev := <-c.events:
		return ev
	case err := <-c.closed:
		t.Fatalf("WebSocket closed: %v", err)
	case <-time.After(wait):
		t.Fatalf("no WebSocket message within %s", wait)
	}
	panic("unreachable")
}

// closeStatus waits for the server to close the socket and returns its close code and reason.
func (c *wsClient) closeStatus(t testing.TB) (websocket.StatusCode, string) {
	t.Helper()
	_, code, reason := c.ended(t)
	return code, reason
}

// ended waits for the server to close the socket and returns the events not yet read, its
// close code and reason.
func (c *wsClient) ended(t testing.TB) ([]envelope, websocket.StatusCode, string) {
	t.Helper()
	var rest []envelope
	for {
		select {
		case ev := <-c.events:
			rest = append(rest, ev)
		case err := <-c.closed:
			for len(c.events) > 0 { // the reader queued every event before it saw the close
				rest = append(rest, <-c.events)
			}
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("WebSocket ended without a close frame: %v", err)
			}
			return rest, ce.Code, ce.Reason
		case <-time.After(wait):
			t.Fatalf("WebSocket still open after %s", wait)
		}
	}
}

// poller is a long-poll client that follows the protocol: it passes back its connection id
// and last cursor.
type poller struct {
	e      *env
	token  string
	query  url.Values
	id     string
	cursor string
	queue  []envelope
}

func (e *env) dialPoll(token, query string) *poller {
	e.t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		e.t.Fatal(err)
	}
	p := &poller{e: e, token: token, query: q}
	return p
}

// poll makes one long-poll request and returns its events.
func (p *poller) poll(t testing.TB) []envelope {
	t.Helper()
	q := url.Values{}
	for k, v := range p.query {
		q[k] = v
	}
	if p.id != "" {
		q.Set("connection_id", p.id)
	}
	if p.cursor != "" {
		q.Set("cursor", p.cursor)
	}
	body := p.e.mustDo(http.StatusOK, "GET", "/poll?"+q.Encode(), p.token, nil)
	var res struct {
		Events       []envelope `json:"events"`
		Cursor       string     `json:"cursor"`
		ConnectionID string     `json:"connection_id"`
	}
	decode(t, body, &res)
	p.id, p.cursor = res.ConnectionID, res.Cursor
	return res.Events
}

func (p *poller) next(t testing.TB) envelope {
	t.Helper()
	deadline := time.Now().Add(wait)
	for len(p.queue) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no long-poll event within %s", wait)
		}
		p.queue = p.poll(t)
	}
	ev := p.queue[0]
	p.queue = p.queue[1:]
	return ev
}

// errorBody is the JSON error of every refused request.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// sndbufListener sets a small, fixed send buffer on every accepted connection.
type sndbufListener struct{ net.Listener }

func (l sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// unlimited lifts the rate limits, which tests that are not about them would trip over.
func unlimited() api.LimitsConfig {
	none := api.ActionLimit{User: api.Limit{Rate: 1e9, Burst: 1e9}, Conn: api.Limit{Rate: 1e9, Burst: 1e9}}
	return api.LimitsConfig{Messages: none, Typing: none, Joins: none, Presence: none, Changes: none, Rooms: none, Reads: none,
		MaxConnsPerUser: 1 << 20, MaxRoomsPerUser: 1 << 20, MaxRequestsPerUser: 1 << 20}
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
