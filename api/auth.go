package api

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/api/auth"
	"switchboard/realtime"
)

// Principal is an authenticated caller: who a token names, or the server's API key.
type Principal struct {
	auth.Principal
	apiKey bool // the server's API key, not a token
}

// principalOf is the caller a verified token names.
func principalOf(p auth.Principal) Principal { return Principal{Principal: p} }

// connPrincipal is the caller behind a live connection.
func connPrincipal(u realtime.User) Principal { return principalOf(auth.Principal{User: u}) }

// TokenCookie is the cookie a browser may carry its token in.
const TokenCookie = "switchboard_token"

// tokenFrom finds the request's token: the Authorization header, then the access_token query
// parameter (EventSource and browser WebSockets cannot set headers), then the cookie.
func tokenFrom(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if tok := r.URL.Query().Get("access_token"); tok != "" {
		return tok
	}
	if ck, err := r.Cookie(TokenCookie); err == nil {
		return ck.Value
	}
	return ""
}

const principalKey = "principal"

// requireAuth admits requests that carry a valid token and stores their Principal.
func (s *Server) requireAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return s.authenticated(next, s.auth.Verify)
}

// requireStreamAuth is requireAuth for the requests that open a stream (SSE, WebSocket), which
// present their token once: it is verified but not remembered (auth.Authenticator.VerifyOnce).
func (s *Server) requireStreamAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return s.authenticated(next, s.auth.VerifyOnce)
}

// authenticated admits requests whose token verify accepts, as requireAuth describes.
func (s *Server) authenticated(next echo.HandlerFunc, verify func(token string) (auth.Principal, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		tok := tokenFrom(c.Request())
		if tok == "" {
			s.metrics.authFailures.WithLabelValues("unauthorized").Inc()
			return unauthorized("unauthorized",
				"a token is required: send Authorization: Bearer <token>, the access_token query parameter, or the "+TokenCookie+" cookie")
		}
		p, err := verify(tok)
		if err != nil {
			s.authFailed(c.Request().Context(), c.RealIP(), asError(err).Code)
			return err
		}
		if r := c.Request(); r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := s.checkBlock(p.ID); err != nil { // new streams: admit
				return err
			}
		}
		c.Set(principalKey, principalOf(p))
		return next(c)
	}
}

// checkBlock refuses a kicked user's new streams and REST writes until the kick's block ends;
// reads stay open to them, and so does a long-poll connection's next request, which collects
// the kicked event.
func (s *Server) checkBlock(userID string) error {
	until := s.blocks.blockedUntil(userID)
	if until.IsZero() {
		return nil
	}
	secs := int(math.Ceil(time.Until(until).Seconds()))
	return &Error{Status: http.StatusForbidden, Code: "kicked", RetryAfter: secs,
		Message: fmt.Sprintf("an administrator removed you; you may connect and write again at %s", wireTime(until))}
}

func principal(c echo.Context) Principal {
	p, _ := c.Get(principalKey).(Principal)
	return p
}

// Permissions a token may carry.
const (
	PermPublish           = "publish"
	PermAdminConnections  = "admin.connections"
	PermSendNotifications = "notifications.send"
	PermSendAnnouncements = "announcements.send"
)

// requirePermission admits authenticated callers holding permission; others get 403.
func requirePermission(permission string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !principal(c).Can(permission) {
				return forbidden("this needs the %s permission", permission)
			}
			return next(c)
		}
	}
}
