package api

import (
	"context"
	"sync"
	"time"
)

// Auth failures from one address within authBurstWindow that make a security event.
const (
	authBurstThreshold = 20
	authBurstWindow    = time.Minute
)

// authWatch notices bursts of failed authentication from one address and records them once
// per window in the audit log, as the security events they are.
type authWatch struct {
	mu       sync.Mutex // guards failures
	failures map[string]*failureWindow
}

type failureWindow struct {
	start    time.Time
	count    int
	reported bool
}

// authFailed counts a refused token or key from addr.
func (s *Server) authFailed(ctx context.Context, addr, code string) {
	s.metrics.authFailures.WithLabelValues(code).Inc()
	now := time.Now()
	s.authWatch.mu.Lock()
	if s.authWatch.failures == nil || len(s.authWatch.failures) > 100_000 {
		s.authWatch.failures = make(map[string]*failureWindow)
	}
	w := s.authWatch.failures[addr]
	if w == nil || now.Sub(w.start) > authBurstWindow {
		w = &failureWindow{start: now}
		s.authWatch.failures[addr] = w
	}
	w.count++
	report := w.count >= authBurstThreshold && !w.reported
	if report {
		w.reported = true
	}
	s.authWatch.mu.Unlock()
	if report {
		s.log.Warn("burst of failed authentication", "remote_addr", addr, "failures", authBurstThreshold, "within", authBurstWindow)
		s.audit(ctx, addr, "auth_failures", addr, map[string]any{"failures": authBurstThreshold, "window_seconds": authBurstWindow.Seconds(), "last_code": code})
	}
}
