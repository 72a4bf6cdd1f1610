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
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"switchboard/api/auth"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy stands between Chromium and a server and misbehaves on purpose, per stream path
// (/ws, /events, /poll): it black-holes open streams (stops forwarding both ways and keeps the
// sockets), answers a chosen status with Retry-After, kills streams a while after they opened,
// or refuses WebSocket upgrades as a corporate proxy does. Everything else passes untouched,
// except an answer it was asked to hold back (holdNext), as a slow network would.
// It also hands out tokens of a chosen lifetime at /_test/token?ttl=…, as an app's own backend
// would, for clients with getToken.
type faultProxy struct {
	t    *testing.T
	url  string
	srv  *server
	rp   *httputil.ReverseProxy
	hits atomic.Int64

	mu      sync.Mutex
	faults  map[string]fault       // by path
	streams []*proxiedStream       // every stream request passed through, live or not
	opened  map[string][]time.Time // stream requests by path (handshakes, not status checks)
	checks  map[string]int         // status checks by path: plain GETs of /ws, fetches of /events
	held    map[string]heldAnswer  // by path: its next answer waits (holdNext)
}

// fault is how the proxy treats the requests of one path.
type fault struct {
	status        int           // answer this status, with Retry-After retryAfter, until until
	retryAfter    int           // seconds
	until         time.Time     // zero: until cleared
	killAfter     time.Duration // end each stream this long after it was forwarded
	refuseUpgrade bool          // answer WebSocket upgrades 403, as a proxy that allows none
}

// proxiedStream is one stream request on its way through: its backend socket, and how to end it.
type proxiedStream struct {
	path   string
	kill   context.CancelFunc
	hole   atomic.Bool // black-holed: nothing passes either way any more
	cut    atomic.Bool // ended by the proxy (kill)
	ended  atomic.Bool // the request is over
	mu     sync.Mutex
	conn   net.Conn // the backend socket, once dialled
	closed sync.Once
}

type streamKey struct{}

func newFaultProxy(t *testing.T, s *server) *faultProxy {
	t.Helper()
	p := &faultProxy{t: t, srv: s, faults: map[string]fault{}, opened: map[string][]time.Time{}, checks: map[string]int{},
		held: map[string]heldAnswer{}}
	backend := &url.URL{Scheme: "http", Host: s.addr}
	dialer := &net.Dialer{}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(backend); r.Out.Host = r.In.Host },
		Transport: &http.Transport{
			DisableKeepAlives:  true, // one backend socket per request, so that each can be black-holed
			DisableCompression: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dialer.DialContext(ctx, network, addr)
				if st, ok := ctx.Value(streamKey{}).(*proxiedStream); ok && err == nil {
					st.mu.Lock()
					st.conn = c
					st.mu.Unlock()
					return &holeConn{Conn: c, st: st, closed: make(chan struct{})}, nil
				}
				return c, err
			},
		},
		ModifyResponse: p.holdAnswer,
		FlushInterval:  -1,
		ErrorLog:       log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	hs := httptest.NewServer(http.HandlerFunc(p.serve))
	p.url = hs.URL
	t.Cleanup(func() {
		p.mu.Lock()
		for _, st := range p.streams {
			st.end()
		}
		p.mu.Unlock()
		hs.CloseClientConnections()
		hs.Close()
	})
	return p
}

func (p *faultProxy) serve(w http.ResponseWriter, r *http.Request) {
	p.hits.Add(1)
	if r.URL.Path == "/_test/token" {
		p.serveToken(w, r)
		return
	}
	path := r.URL.Path
	stream := path == "/ws" || path == "/events" || path == "/poll"
	if !stream {
		p.rp.ServeHTTP(w, r)
		return
	}
	upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	check := (path == "/ws" && !upgrade) || (path == "/events" && r.Header.Get("Accept") != "text/event-stream")
	p.mu.Lock()
	f := p.faults[path]
	if check {
		p.checks[path]++
	} else {
		p.opened[path] = append(p.opened[path], time.Now())
	}
	p.mu.Unlock()
	if f.status != 0 && (f.until.IsZero() || time.Now().Before(f.until)) {
		if f.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "injected", "message": "answered by the fault proxy"}})
		return
	}
	if upgrade && f.refuseUpgrade {
		http.Error(w, "WebSocket upgrades are not allowed here", http.StatusForbidden)
		return
	}
	ctx, kill := context.WithCancel(r.Context())
	st := &proxiedStream{path: path, kill: kill}
	p.mu.Lock()
	p.streams = append(p.streams, st)
	p.mu.Unlock()
	if f.killAfter > 0 {
		t := time.AfterFunc(f.killAfter, st.end)
		defer t.Stop()
	}
	defer st.ended.Store(true)
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(ctx, streamKey{}, st)))
}

// serveToken hands out a token for sub that expires after ttl (Go duration syntax).
func (p *faultProxy) serveToken(w http.ResponseWriter, r *http.Request) {
	ttl, err := time.ParseDuration(r.URL.Query().Get("ttl"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var c auth.Claims
	c.Subject, c.Name = r.URL.Query().Get("sub"), r.URL.Query().Get("sub")
	tok, _, err := auth.IssueToken(p.srv.cfg.Auth.Secret, c, ttl)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

// set makes f how requests of path are treated from now on.
func (p *faultProxy) set(path string, f fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[path] = f
}

// answer makes requests of path answer status, with Retry-After retryAfter, for d.
func (p *faultProxy) answer(path string, status, retryAfter int, d time.Duration) {
	p.set(path, fault{status: status, retryAfter: retryAfter, until: time.Now().Add(d)})
}

// holdNext holds the server's next answer to a request of path on the way back, as a slow
// network would: the page gets it, as the server wrote it then, only once release is called.
// arrived is closed when the server has answered.
func (p *faultProxy) holdNext(path string) (arrived <-chan struct{}, release func()) {
	h := heldAnswer{arrived: make(chan struct{}), release: make(chan struct{})}
	p.mu.Lock()
	p.held[path] = h
	p.mu.Unlock()
	var once sync.Once
	release = func() { once.Do(func() { close(h.release) }) }
	p.t.Cleanup(release)
	return h.arrived, release
}

// heldAnswer is an answer holdNext asked to hold.
type heldAnswer struct {
	arrived chan struct{} // closed when the server has answered
	release chan struct{} // closed to pass the answer on
}

// holdAnswer is the reverse proxy's ModifyResponse: the answer holdNext asked for waits.
func (p *faultProxy) holdAnswer(res *http.Response) error {
	p.mu.Lock()
	h, ok := p.held[res.Request.URL.Path]
	delete(p.held, res.Request.URL.Path)
	p.mu.Unlock()
	if ok {
		close(h.arrived)
		<-h.release
	}
	return nil
}

// live returns the streams of path that are still being forwarded.
func (p *faultProxy) live(path string) []*proxiedStream {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*proxiedStream
	for _, st := range p.streams {
		if st.path == path && !st.ended.Load() && !st.hole.Load() && !st.cut.Load() {
			out = append(out, st)
		}
	}
	return out
}

// blackhole silences the live streams of path, both ways, without closing anything: neither
// the page nor the server notices. It returns how many.
func (p *faultProxy) blackhole(path string) int {
	live := p.live(path)
	for _, st := range live {
		st.hole.Store(true)
	}
	return len(live)
}

// kill ends the live streams of path at once, as a connection reset would, and returns how many.
func (p *faultProxy) kill(path string) int {
	live := p.live(path)
	for _, st := range live {
		st.end()
	}
	return len(live)
}

// reconnect cuts p's WebSocket at the proxy and waits until the client is open again.
func reconnect(t *testing.T, proxy *faultProxy, p *page) {
	t.Helper()
	id := eval[string](p, `switchboard.connectionId`)
	if n := proxy.kill("/ws"); n != 1 {
		t.Fatalf("%d WebSocket streams to cut, want 1", n)
	}
	p.until("reconnected", fmt.Sprintf(`switchboard.state === 'open' && switchboard.connectionId !== %s`, js(id)))
}

// opens returns when the stream requests of path arrived.
func (p *faultProxy) opens(path string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.opened[path]...)
}

// checked returns how many status checks of path arrived.
func (p *faultProxy) checked(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.checks[path]
}

// end cuts the stream: the request is cancelled and its backend socket closed, so the proxy
// drops the page's connection.
func (st *proxiedStream) end() {
	st.closed.Do(func() {
		st.cut.Store(true)
		st.kill()
		st.mu.Lock()
		if st.conn != nil {
			st.conn.Close()
		}
		st.mu.Unlock()
	})
}

// holeConn is a backend socket that passes nothing once its stream is black-holed: what the
// server writes is read and dropped, what the page writes is swallowed, and the server closing
// its end is not passed on either: the page learns nothing until it gives up.
type holeConn struct {
	net.Conn
	st      *proxiedStream
	closing sync.Once
	closed  chan struct{} // closed by Close: the proxy let go of the request
}

func (c *holeConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if !c.st.hole.Load() || c.st.cut.Load() {
			return n, err
		}
		if err != nil {
			<-c.closed
			return 0, err
		}
		// Dropped: the page must not see it. Keep reading so the server's writes never stall.
	}
}

func (c *holeConn) Close() error {
	c.closing.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *holeConn) Write(b []byte) (int, error) {
	if c.st.hole.Load() {
		return len(b), nil
	}
	return c.Conn.Write(b)
}
