package api

import (
	"context"

	"github.com/labstack/echo/v4"
)

// boundDatabaseWork gives a REST request's context the deadline of its database work
// (Config.DBTimeout). Every database call already gives up on a server that does not answer
// for that long; this also bounds a request's calls together, and their waits for a pooled
// connection, which pile up when many requests find the database stopped at once. Streams are
// not under it: they outlive any deadline, and need the database only to start.
func (s *Server) boundDatabaseWork(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.DBTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}
