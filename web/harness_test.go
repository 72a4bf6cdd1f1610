package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchboard/api"
	"switchboard/db"
	"switchboard/db/dbtest"
	"switchboard/realtime"
	"switchboard/web"
)

// wait bounds every wait on the page. Tests synchronise on DOM state; the bound only turns a
// hang into a failure.
const wait = 20 * time.Second

var testSecret = []byte("test-secret-test-secret-test-secret!")

// server is one Switchboard server on a real listener, over a database that outlives it.
type server struct {
	t     *testing.T
	addr  string // host:port, kept across restarts
	dbCfg db.Config
	cfg   api.Config
	hcfg  func(*realtime.Config) // adjusts the hub's config, if set
	// onRequest, if set, sees each request before it is served (and may hold it); set it
	// while the server is stopped.
	onRequest func(*http.Request)

	mu   sync.Mutex
	hits map[string]int // requests by path since the server last started

	store *db.DB
	hub   *realtime.Hub
	api   *api.Server
	http  *http.Server
	done  chan struct{}
}

// startServer starts a server on a fresh SQLite database; adjust changes its API config.
func startServer(t *testing.T, adjust func(*api.Config)) *server {
	t.Helper()
	s := newServer(t, adjust)
	s.start()
	return s
}

// newServer is startServer without the start, for tests that set more before it.
func newServer(t *testing.T, adjust func(*api.Config)) *server {
	t.Helper()
	cfg := api.Config{Auth: api.AuthConfig{Secret: testSecret, Demo: true}, PollTimeout: 10 * time.Second, Web: web.FS()}
	if adjust != nil {
		adjust(&cfg)
	}
	s := &server{t: t, addr: "127.0.0.1:0", dbCfg: dbtest.Config(t, db.SQLite), cfg: cfg}
	t.Cleanup(s.stop)
	return s
}

// base is the server's URL.
func (s *server) base() string { return "http://" + s.addr }

// start opens the database and serves on s.addr.
func (s *server) start() {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	store, err := db.Open(ctx, s.dbCfg)
	if err != nil {
		t.Fatal(err)
	}
	hcfg := realtime.Config{Store: store, Epoch: store.Epoch()}
	if s.hcfg != nil {
		s.hcfg(&hcfg)
	}
	cfg := s.cfg
	cfg.Metrics = api.Wire(store, &hcfg)
	hub, err := realtime.New(hcfg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(cfg, hub, store)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.store, s.hub, s.api, s.done = store, hub, a, make(chan struct{})
	s.mu.Lock()
	s.hits = map[string]int{}
	s.mu.Unlock()
	h, onRequest := a.Handler(), s.onRequest
	s.http = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		if onRequest != nil {
			onRequest(r)
		}
		h.ServeHTTP(w, r)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go func() {
		defer close(s.done)
		s.http.Serve(ln)
	}()
}

// stop ends every stream, as a deploy would, then closes the listener and the database.
func (s *server) stop() {
	if s.http == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.api.Shutdown(ctx, 0)
	s.http.Close()
	<-s.done
	s.hub.Close()
	s.store.Close()
	s.http = nil
}

// requests returns how many requests for path the server has had since it last started.
func (s *server) requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// token returns a token for a user (id: the name in lower case) that expires after ttl,
// signed with the server's current secret.
func (s *server) token(name string, ttl time.Duration) string {
	s.t.Helper()
	c := api.Claims{Name: name}
	c.Subject = strings.ToLower(name)
	tok, _, err := api.IssueToken(s.cfg.Auth.Secret, c, ttl)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// adminToken returns a token for an administrator with every administrative permission.
func (s *server) adminToken(name string) string {
	s.t.Helper()
	c := api.Claims{Name: name, Roles: []string{"admin"},
		Permissions: []string{api.PermAdminConnections, api.PermSendNotifications, api.PermSendAnnouncements}}
	c.Subject = strings.ToLower(name)
	tok, _, err := api.IssueToken(s.cfg.Auth.Secret, c, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// call sends a JSON request with a token and fails the test unless it answers want.
func (s *server) call(token, method, path string, body any, want int) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.base()+path, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != want {
		out, _ := io.ReadAll(res.Body)
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, out)
	}
}

// post sends a chat message over REST as a user.
func (s *server) post(user, room, content string) {
	s.t.Helper()
	s.call(s.token(user, time.Hour), "POST", "/api/rooms/"+room+"/messages", map[string]string{"content": content}, http.StatusCreated)
}

// bufferingProxy stands in front of backend like a proxy that refuses WebSocket upgrades and
// holds every response until it ends: an event stream never gets through, long-polls do.
func bufferingProxy(t *testing.T, backend string) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "WebSocket upgrades are not allowed here", http.StatusForbidden)
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, backend+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		req.ContentLength = r.ContentLength
		res, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body) // the whole response, however long it takes
		if err != nil {
			return
		}
		for k, v := range res.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(res.StatusCode)
		w.Write(body)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

// browser is the headless Chromium the tests share, started by the first test that needs it
// with a fresh profile and closed by TestMain. Each page gets a browser context of its own:
// its own cookies, storage and cache.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	dir    string
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
		os.RemoveAll(browser.dir)
	}
	os.Exit(code)
}

// newBrowser returns the shared browser, starting it on first use. Without Chromium the test
// is skipped, except under CI=true, where it fails.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.err != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("no browser (apt-get install chromium): %v", browser.err)
		}
		t.Fatal(browser.err)
	}
	return browser.ctx
}

func startBrowser() {
	if _, err := os.Stat(chromiumPath); err != nil {
		browser.err = err
		return
	}
	browser.dir, browser.err = os.MkdirTemp("", "switchboard-chromium")
	if browser.err != nil {
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(browser.dir),
		chromedp.WindowSize(1024, 768),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	browser.ctx, browser.cancel = ctx, func() { cancel(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		browser.err = fmt.Errorf("starting Chromium: %w", err)
	}
}

const chromiumPath = "/usr/bin/chromium"

// page is one user's tab, in a browser context of its own (its own cookies and storage).
type page struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []string
}

// newPage opens a tab of width×height CSS pixels; its console is printed if the test fails.
func newPage(t *testing.T, browser context.Context, name string, width, height int64) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	p := &page{t: t, name: name, ctx: ctx}
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		t.Fatalf("opening %s's tab: %v", name, err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, fmt.Sprintf("%s %s", m.Type, m))
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		p.screenshot("failed-" + strings.ReplaceAll(t.Name(), "/", "_"))
		p.mu.Lock()
		defer p.mu.Unlock()
		t.Logf("console of %s's page:\n\t%s", name, strings.Join(p.console, "\n\t"))
	})
	return p
}

// do runs steps on the page, failing the test on error.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// until waits for a JavaScript expression to be true on the page.
func (p *page) until(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(wait)))
	if err != nil {
		p.t.Fatalf("%s: waiting until %s: %v\n\texpression: %s\n\tpage state: %s", p.name, what, err, expr, p.state())
	}
}

// eval returns the value of a JavaScript expression on the page (with chromedp.EvalAwaitPromise,
// of the promise it returns).
func eval[T any](p *page, expr string, opts ...chromedp.EvaluateOption) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		p.t.Fatalf("%s: evaluating %s: %v", p.name, expr, err)
	}
	return v
}

// state describes the page for failure messages: connection and the messages shown.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		conn: document.querySelector('#conn')?.dataset, text: document.querySelector('#conn-text')?.textContent,
		online: document.querySelector('#online-count')?.textContent, typing: document.querySelector('#typing')?.textContent,
		messages: [...document.querySelectorAll('#messages li')].map(li => (li.dataset.status || '') + ' ' + li.textContent)})`))
	if err != nil {
		return "unknown: " + err.Error()
	}
	return s
}

// screenshot saves the page as <out>/<name>.png and returns the path.
func (p *page) screenshot(name string) string {
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("%s: screenshot: %v", p.name, err)
		return ""
	}
	dir := outputDir(p.t)
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Logf("saving a screenshot: %v", err)
		return ""
	}
	return path
}

// outputDir is $SWITCHBOARD_TEST_OUT, or .test-output/browser at the module root.
func outputDir(t *testing.T) string {
	dir := os.Getenv("SWITCHBOARD_TEST_OUT")
	if dir == "" {
		root, err := dbtest.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".test-output", "browser")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
