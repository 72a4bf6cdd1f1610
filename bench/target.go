package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// target is the server under load: where it listens, how to get tokens for it, how to read
// its process figures, and the HTTP clients the generator reaches it with.
type target struct {
	base     string // http://host:port
	hostport string
	pid      int
	dbKind   string
	tokens   *tokenSource
	server   *spawned  // nil for an existing server
	nodeID   string    // the node's --node-id in a spawned cluster
	nodes    []*target // every node of a spawned cluster, this one first; nil otherwise

	rest   *http.Client // REST calls: a pool bounded by -concurrency
	stream *http.Client // r3labs SSE and WebSocket handshakes: one connection per stream
	poll   *http.Client // long-polls: keep-alive connections, one per poller
}

// openTarget spawns the server or checks the one named by -url.
func openTarget(ctx context.Context, cfg config) (*target, error) {
	t := &target{pid: cfg.pid, dbKind: "unknown"}
	secret := cfg.secret
	if cfg.spawn {
		s, err := spawn(ctx, cfg)
		if err != nil {
			return nil, err
		}
		t.server, t.pid, secret, t.dbKind = s, s.procs[0].pid(), s.secret, s.dbKind
		t.base = "http://" + s.procs[0].addr
		t.nodeID = s.procs[0].nodeID
	} else {
		u, err := checkLoopback(cfg.url)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" {
			return nil, fmt.Errorf("-url %q: only http:// (loopback needs no TLS)", cfg.url)
		}
		t.base = u.Scheme + "://" + u.Host
		if t.pid > 0 {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", t.pid)); err != nil {
				return nil, fmt.Errorf("-pid %d: %w", t.pid, err)
			}
		}
	}
	t.hostport = strings.TrimPrefix(t.base, "http://")
	if _, _, err := net.SplitHostPort(t.hostport); err != nil {
		t.hostport += ":80"
	}
	t.rest = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: cfg.concurrency * 2, MaxIdleConnsPerHost: cfg.concurrency * 2,
		DisableCompression: true, IdleConnTimeout: time.Minute}}
	t.stream = &http.Client{Transport: &http.Transport{
		DisableCompression: true, ReadBufferSize: 4096, WriteBufferSize: 1024}}
	t.poll = &http.Client{Transport: &http.Transport{
		MaxIdleConns: cfg.n + 16, MaxIdleConnsPerHost: cfg.n + 16, DisableCompression: true,
		IdleConnTimeout: time.Minute, ReadBufferSize: 4096, WriteBufferSize: 1024}}
	t.tokens = newTokenSource(t, []byte(secret), cfg.timeout+10*time.Minute)
	if t.server != nil && len(t.server.procs) > 1 {
		// Every node shares the clients and tokens; only the address and process differ.
		for _, p := range t.server.procs {
			n := *t
			n.base, n.hostport, n.pid, n.nodeID, n.nodes = "http://"+p.addr, p.addr, p.pid(), p.nodeID, nil
			t.nodes = append(t.nodes, &n)
		}
		t.nodes[0] = t
	}
	for _, n := range t.cluster() {
		if err := n.waitReady(ctx, 30*time.Second); err != nil {
			t.kill()
			return nil, err
		}
	}
	if !cfg.spawn {
		t.dbKind = "as configured"
	}
	return t, nil
}

// waitReady waits for GET /readyz to answer 200.
func (t *target) waitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/readyz", nil)
		resp, err := t.rest.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /readyz: %s", resp.Status)
		}
		last = err
		if t.server != nil && t.server.exited() {
			return fmt.Errorf("the server exited while starting; its log:\n%s", t.server.logTail())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server at %s not ready: %v", t.base, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// connectedClients reads the hub's connection count from GET /ws/health.
func (t *target) connectedClients(ctx context.Context) (int, error) {
	var body struct {
		ConnectedClients int `json:"connectedClients"`
	}
	err := t.getJSON(ctx, "/ws/health", "", &body)
	return body.ConnectedClients, err
}

// goroutines reads the server's go_goroutines from GET /metrics.
func (t *target) goroutines(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	res, err := t.rest.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, statusError(res)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("/metrics has no go_goroutines")
}

// rss returns the server's resident set size, or -1 without a pid.
func (t *target) rss() int64 {
	if t.pid <= 0 {
		return -1
	}
	v, err := readRSS(t.pid)
	if err != nil {
		return -1
	}
	return v
}

// finish adds the closing figures and stops a spawned server.
func (t *target) finish(rep *report) {
	rep.add("loadavg_end", loadAvg(), "", "1-minute load average at the end")
	if rss := t.rss(); rss >= 0 {
		rep.add("server_rss_end_mib", mib(rss), "MiB", "server VmRSS at the end")
	}
	if self, err := statusField(0, "VmHWM:"); err == nil {
		rep.add("generator_rss_peak_mib", mib(self), "MiB", "generator peak RSS")
	}
	if t.server != nil {
		t.server.keepLog = t.server.keepLog || rep.has("error") || rep.has("timed_out")
		if err := t.server.stop(); err != nil {
			rep.add("server_stop", err.Error(), "", "")
		}
		if t.server.crashed {
			rep.add("server_crashed", true, "", "the server exited during the run; see server_log")
		}
		if t.server.crashed || t.server.keepLog {
			rep.add("server_log", t.server.logPaths(), "", "kept: -keep-log, or the run failed")
		}
	}
}

// kill stops a spawned server at once.
func (t *target) kill() {
	if t.server != nil {
		t.server.kill()
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
