package api

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

// handleWeb serves the embedded web app. Paths it does not have get the JSON 404 like every
// other route, never an HTML page.
func (s *Server) handleWeb(c echo.Context) error {
	name := strings.TrimPrefix(path.Clean("/"+c.Param("*")), "/")
	if name == "" {
		name = "index.html"
	}
	if st, err := fs.Stat(s.cfg.Web, name); err != nil || st.IsDir() {
		return notFound("not_found", "nothing at %s %s", c.Request().Method, c.Request().URL.Path)
	}
	if strings.HasSuffix(name, ".html") {
		c.Response().Header().Set("Cache-Control", "no-cache")
	}
	http.ServeFileFS(c.Response(), c.Request(), s.cfg.Web, name)
	return nil
}
