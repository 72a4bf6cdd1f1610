package api

import (
	"net/http"
	"strings"
	"switchboard/api/auth"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

const maxDemoNameChars = 40

// handleDemoLogin serves POST /api/auth/demo {"name"}: in demo mode, anyone gets a token for
// the name they pick. The token is returned and also set as an HttpOnly cookie.
func (s *Server) handleDemoLogin(c echo.Context) error {
	if !s.cfg.Auth.Demo {
		return notFound("demo_disabled", "demo sign-in is off: this server accepts tokens from its identity provider")
	}
	var body struct {
		Name  string `json:"name"`
		Admin bool   `json:"admin"` // demo only: a token with every administrative permission
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	name := strings.TrimSpace(body.Name)
	id := demoUserID(name)
	if id == "" || utf8.RuneCountInString(name) > maxDemoNameChars {
		return invalid("name", "name must be 1–%d characters with at least one letter or digit", maxDemoNameChars)
	}
	if id == auth.APIKeyActor {
		return invalid("name", "this name is reserved; choose another")
	}
	claims := auth.Claims{Name: name}
	claims.Subject = id
	if body.Admin {
		claims.Roles = []string{"admin"}
		claims.Permissions = []string{PermAdminConnections, PermSendNotifications, PermSendAnnouncements, PermPublish}
	}
	token, exp, err := s.auth.Issue(claims, s.auth.Config().DemoTTL)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: TokenCookie, Value: token, Path: "/", Expires: exp, HttpOnly: true,
		Secure: s.overTLS(c), SameSite: http.SameSiteLaxMode})
	return c.JSON(http.StatusOK, map[string]any{
		"token": token, "expires_at": wireTime(exp),
		"user": map[string]any{"id": id, "name": name, "roles": claims.Roles, "permissions": claims.Permissions},
	})
}

// handleLogout serves POST /api/auth/logout: it clears the token cookie, which pages cannot
// reach (it is HttpOnly). Tokens themselves stay valid until they expire.
func (s *Server) handleLogout(c echo.Context) error {
	c.SetCookie(&http.Cookie{Name: TokenCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.overTLS(c), SameSite: http.SameSiteLaxMode})
	return c.NoContent(http.StatusNoContent)
}

// demoUserID derives a stable user id from a display name: lower-case letters and digits,
// other runs of characters as one '-'.
func demoUserID(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// overTLS reports whether the client reached us over TLS: directly, or, with TrustProxy, through
// a proxy that terminated TLS and says so in X-Forwarded-Proto.
func (s *Server) overTLS(c echo.Context) bool {
	if c.IsTLS() {
		return true
	}
	return s.cfg.TrustProxy && strings.EqualFold(c.Request().Header.Get(echo.HeaderXForwardedProto), "https")
}
