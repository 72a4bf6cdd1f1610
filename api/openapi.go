package api

import (
	"embed"
	"io/fs"
	"path"

	"github.com/labstack/echo/v4"
)

// descriptions are the API's machine-readable descriptions: openapi.json (OpenAPI 3.1, every
// REST route and the stream handshakes) and events.schema.json (JSON Schema 2020-12, every
// event type's envelope and data). Tests validate real traffic against both.
//
//go:embed openapi/openapi.json openapi/events.schema.json
var descriptions embed.FS

// Descriptions returns the files served at /openapi.json and /events.schema.json.
func Descriptions() fs.FS {
	sub, err := fs.Sub(descriptions, "openapi")
	if err != nil {
		panic(err) // the embedded tree always has openapi/
	}
	return sub
}

// handleDescription serves one of the API's descriptions, to anyone: tools fetch them from
// other origins (an API client generator, an API explorer), so they may be read cross-origin.
func (s *Server) handleDescription(c echo.Context) error {
	name := path.Base(c.Path())
	f, ok := s.descriptions.get(Descriptions(), name)
	if !ok {
		return internal(s.descriptions.err)
	}
	c.Response().Header().Set("Access-Control-Allow-Origin", "*")
	serveFile(c, name, f)
	return nil
}
