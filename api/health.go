package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// handleHealthz serves GET /healthz: the process is up.
func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz serves GET /readyz: 200 while the server can take traffic, 503 while the
// database is unreachable or the server is draining.
func (s *Server) handleReadyz(c echo.Context) error {
	checks := map[string]string{"database": "ok"}
	status := http.StatusOK
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.db.Ping(ctx); err != nil {
		checks["database"] = "unreachable"
		status = http.StatusServiceUnavailable
		s.log.Warn("readiness: database unreachable", "err", err)
	}
	if cl := s.cfg.Cluster; cl != nil && !cl.Healthy() {
		checks["cluster"] = "degraded: not hearing the other nodes"
		status = http.StatusServiceUnavailable
	}
	if s.hub.Closing() {
		checks["server"] = "shutting down"
		status = http.StatusServiceUnavailable
	}
	word := "ready"
	if status != http.StatusOK {
		word = "unavailable"
		c.Response().Header().Set("Retry-After", "2")
	}
	return c.JSON(status, map[string]any{"status": word, "checks": checks})
}

// handleWSHealth serves GET /ws/health in the seed's shape.
func (s *Server) handleWSHealth(c echo.Context) error {
	st := s.hub.Stats()
	return c.JSON(http.StatusOK, map[string]any{
		"status":           "ok",
		"connectedClients": st.Connections,
		"activeRooms":      st.Rooms,
		"timestamp":        wireTime(time.Now()),
	})
}
