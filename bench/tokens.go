package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"switchboard/api/auth"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenSource hands out bearer tokens: minted with the server's HS256 secret when known (the
// way an identity provider would), else from the server's demo sign-in.
type tokenSource struct {
	t      *target
	secret []byte
	ttl    time.Duration

	mu    sync.Mutex // guards cache
	cache map[string]string
}

func newTokenSource(t *target, secret []byte, ttl time.Duration) *tokenSource {
	return &tokenSource{t: t, secret: secret, ttl: ttl, cache: make(map[string]string)}
}

// token returns a token for user, holding the given permissions.
func (s *tokenSource) token(ctx context.Context, user string, permissions ...string) (string, error) {
	key := fmt.Sprint(user, permissions)
	s.mu.Lock()
	tok, ok := s.cache[key]
	s.mu.Unlock()
	if ok {
		return tok, nil
	}
	var err error
	if len(s.secret) > 0 {
		claims := auth.Claims{Name: user, Permissions: permissions,
			RegisteredClaims: jwt.RegisteredClaims{Subject: user}}
		tok, _, err = auth.IssueToken(s.secret, claims, s.ttl)
	} else {
		if len(permissions) > 0 {
			return "", fmt.Errorf("a token with permissions %v needs -secret (demo sign-in grants none)", permissions)
		}
		tok, err = s.demo(ctx, user)
	}
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.cache[key] = tok
	s.mu.Unlock()
	return tok, nil
}

// demo signs in through POST /api/auth/demo; the user id it gets is the name, lower-cased.
func (s *tokenSource) demo(ctx context.Context, user string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	body, _ := json.Marshal(map[string]string{"name": user})
	status, err := s.t.postJSON(ctx, "/api/auth/demo", "", body, &out)
	if err != nil {
		return "", fmt.Errorf("demo sign-in (pass -secret for a server with SWITCHBOARD_JWT_SECRET): %w", err)
	}
	if status != http.StatusOK || out.Token == "" {
		return "", fmt.Errorf("demo sign-in answered %d (pass -secret for a server with SWITCHBOARD_JWT_SECRET)", status)
	}
	return out.Token, nil
}

// postJSON POSTs body and decodes a 2xx answer into out (when not nil). It returns the status;
// a non-2xx answer is an *httpError carrying the server's error body.
func (t *target) postJSON(ctx context.Context, path, token string, body []byte, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return t.do(req, out)
}

// getJSON GETs path and decodes the answer into out.
func (t *target) getJSON(ctx context.Context, path, token string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+path, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	_, err = t.do(req, out)
	return err
}

func (t *target) do(req *http.Request, out any) (int, error) {
	resp, err := t.rest.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, statusError(resp)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, err
	}
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

// httpError is a non-2xx answer.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// statusError reads the start of a refused answer's body into an httpError; the caller closes
// the body.
func statusError(resp *http.Response) *httpError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &httpError{status: resp.StatusCode, body: string(bytes.TrimSpace(b))}
}

// dialStream opens a raw TCP connection to t for one stream; it is closed when ctx ends, and
// by the caller's call of the returned close.
func dialStream(ctx context.Context, d *net.Dialer, t *target) (net.Conn, func(), error) {
	raw, err := d.DialContext(ctx, "tcp", t.hostport)
	if err != nil {
		return nil, nil, err
	}
	conn := countingConn{raw}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	return conn, func() { stop(); conn.Close() }, nil
}

// wireBytes counts the bytes every raw stream read from its socket: what the server sent, as
// sent (compressed or not), framing included.
var wireBytes atomic.Int64

// countingConn counts what is read into wireBytes.
type countingConn struct{ net.Conn }

func (c countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	wireBytes.Add(int64(n))
	return n, err
}
