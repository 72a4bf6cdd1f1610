package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// handleMe serves GET /api/me: who the token says the caller is, and until when. It reads no
// database, so clients use it to tell a refused token from a blocked transport.
func (s *Server) handleMe(c echo.Context) error {
	p := principal(c)
	roles, perms := p.Roles, p.Permissions
	if roles == nil {
		roles = []string{}
	}
	if perms == nil {
		perms = []string{}
	}
	return c.JSON(http.StatusOK, map[string]any{"id": p.ID, "name": p.Name, "avatar": p.Avatar,
		"roles": roles, "permissions": perms, "expires_at": wireTime(p.Expires)})
}
