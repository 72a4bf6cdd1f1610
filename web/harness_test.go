package web_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchboard/api"
	"switchboard/api/auth"
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
	// tls, when set, makes the server speak HTTPS (HTTP/2 and HTTP/1.1 by ALPN).
	tls api.TLSFiles

	mu   sync.Mutex
	hits map[string]int // requests by path since the server last started

	run   *api.Running // started the way the binary starts it
	store *db.DB
	hub   *realtime.Hub
	api   *api.Server
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
	cfg := api.Config{Auth: auth.Config{Secret: testSecret, Demo: true}, PollTimeout: 10 * time.Second, Web: web.FS()}
	if adjust != nil {
		adjust(&cfg)
	}
	s := &server{t: t, addr: "127.0.0.1:0", dbCfg: dbtest.Config(t, db.SQLite), cfg: cfg}
	t.Cleanup(s.stop)
	return s
}

// base is the server's URL.
func (s *server) base() string {
	if s.tls.CertFile != "" {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// start opens the database and serves on s.addr.
func (s *server) start() {
	t := s.t
	t.Helper()
	setup := api.Setup{Addr: s.addr, DB: s.dbCfg, Cluster: "off", API: s.cfg, TLS: s.tls, Middleware: s.count}
	if s.hcfg != nil {
		s.hcfg(&setup.Hub)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s.mu.Lock()
	s.hits = map[string]int{}
	s.mu.Unlock()
	r, err := api.Start(ctx, setup)
	if err != nil {
		t.Fatal(err)
	}
	s.run, s.addr, s.store, s.hub, s.api = r, r.Addr, r.DB, r.Hub, r.API
}

// count counts each request by hitKey and lets onRequest see it before it is served.
func (s *server) count(h http.Handler) http.Handler {
	onRequest := s.onRequest
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[hitKey(r)]++
		s.mu.Unlock()
		if onRequest != nil {
			onRequest(r)
		}
		h.ServeHTTP(w, r)
	})
}

// stop ends every stream, as a deploy would, then the requests, the listener and the database.
func (s *server) stop() {
	if s.run == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.run.Shutdown(ctx)
	s.run = nil
}

// hitKey is what a request counts as: its path, or "check " and its path for a client's status
// check of a stream (a plain GET of /ws, a fetch of /events) rather than the stream itself.
func hitKey(r *http.Request) string {
	switch {
	case r.URL.Path == "/ws" && r.Header.Get("Upgrade") == "",
		r.URL.Path == "/events" && r.Header.Get("Accept") != "text/event-stream":
		return "check " + r.URL.Path
	}
	return r.URL.Path
}

// requests returns how many requests for path (or "check " and a stream's path) the server has
// had since it last started.
func (s *server) requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// token returns a token for a user (id: the name in lower case) that expires after ttl,
// signed with the server's current secret.
func (s *server) token(name string, ttl time.Duration) string {
	s.t.Helper()
	c := auth.Claims{Name: name}
	c.Subject = strings.ToLower(name)
	tok, _, err := auth.IssueToken(s.cfg.Auth.Secret, c, ttl)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// adminToken returns a token for an administrator with every administrative permission.
func (s *server) adminToken(name string) string {
	s.t.Helper()
	c := auth.Claims{Name: name, Roles: []string{"admin"},
		Permissions: []string{api.PermAdminConnections, api.PermSendNotifications, api.PermSendAnnouncements}}
	c.Subject = strings.ToLower(name)
	tok, _, err := auth.IssueToken(s.cfg.Auth.Secret, c, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// client is an HTTP client for the server: one that takes its self-signed certificate.
func (s *server) client() *http.Client {
	if s.tls.CertFile == "" {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

// call sends a JSON request with a token and fails the test unless it answers want.
func (s *server) call(token, method, path string, body any, want int) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.base()+path, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client().Do(req)
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
	dbtest.ReportSkips("switchboard/web")
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
		dbtest.Skip(t, "Chromium", fmt.Sprintf("%v (apt-get install chromium)", browser.err))
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
		chromedp.Flag("ignore-certificate-errors", true), // the HTTPS tests' self-signed certificates
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

// page is one tab: one user's, in a browser context of its own (its own cookies and storage),
// or one of the tabs of a profile.
type page struct {
	t     *testing.T
	name  string
	ctx   context.Context
	close context.CancelFunc // closes the tab, as its user would

	mu      sync.Mutex
	console []string
}

// newPage opens a tab of width×height CSS pixels in a browser context of its own; its console
// is printed if the test fails.
func newPage(t *testing.T, browser context.Context, name string, width, height int64) *page {
	t.Helper()
	return openTab(t, browser, name, width, height, chromedp.WithNewBrowserContext())
}

// profile is one browser context, as a user's browser profile: its tabs share storage, Web
// Locks and BroadcastChannels. Its tabs are opened with tab, and can be closed one by one.
type profile struct {
	t      *testing.T
	anchor context.Context // an empty tab the others descend from: closing one closes no other
}

func newProfile(t *testing.T) *profile {
	t.Helper()
	ctx, cancel := chromedp.NewContext(newBrowser(t), chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a profile: %v", err)
	}
	return &profile{t: t, anchor: ctx}
}

// tab opens a tab in the profile.
func (pr *profile) tab(name string) *page {
	pr.t.Helper()
	return openTab(pr.t, pr.anchor, name, 1024, 768)
}

// signedOutTab opens a tab in the profile on the app at base, signed out: nothing connects.
func (pr *profile) signedOutTab(name, base string) *page {
	pr.t.Helper()
	p := pr.tab(name)
	p.do("opening the app, signed out", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("demo-name")))
	return p
}

func openTab(t *testing.T, parent context.Context, name string, width, height int64, opts ...chromedp.ContextOption) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	p := &page{t: t, name: name, ctx: ctx, close: cancel}
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

// do runs steps on the page, failing the test on error (with the page's state).
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %s: %v\n\tpage state: %s", p.name, what, err, p.state())
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

// withTimeout returns the page's context, ending after d: for waits longer than the usual bound.
func withTimeout(p *page, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(p.ctx, d)
}

// waitFor polls cond until it holds; for state on the Go side that no event announces.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, wait)
		}
		time.Sleep(10 * time.Millisecond)
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

// afterASecond is eval of expr a second from now, for negatives: what a late answer would
// undo, it undoes as soon as it arrives, so a second after it the page must still hold.
func afterASecond[T any](p *page, expr string) T {
	p.t.Helper()
	return eval[T](p, `new Promise((ok) => setTimeout(() => ok(`+expr+`), 1000))`, chromedp.EvalAwaitPromise)
}

// state describes the page for failure messages: connection, the open room and the messages
// shown.
func (p *page) state() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		conn: document.querySelector('#conn')?.dataset, text: document.querySelector('#conn-text')?.textContent,
		room: document.querySelector('#room-title')?.textContent, tab: window.switchboard?._role,
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
