package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// webFile is one file of the web app, ready to serve: as it is and gzip-compressed (when that
// is smaller), each with its ETag.
type webFile struct {
	ctype        string
	body, gz     []byte
	etag, gzETag string
}

// webFiles holds the web app's files, read and compressed once, on first use.
type webFiles struct {
	once  sync.Once
	files map[string]*webFile
	err   error
}

func (w *webFiles) get(fsys fs.FS, name string) (*webFile, bool) {
	w.once.Do(func() { w.files, w.err = readWebFiles(fsys) })
	f, ok := w.files[name]
	return f, ok
}

func readWebFiles(fsys fs.FS) (map[string]*webFile, error) {
	files := map[string]*webFile{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		f := &webFile{ctype: webType(name), body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`}
		if gz := gzipBytes(body); len(gz) < len(body)*9/10 {
			f.gz, f.gzETag = gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
		}
		files[name] = f
		return nil
	})
	return files, err
}

// webType is the Content-Type of a web app file.
func webType(name string) string {
	if strings.HasSuffix(name, ".d.ts") {
		return "application/typescript; charset=utf-8" // not video/mp2t, as mime.types would have .ts
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// webSecurityHeaders go with every file of the web app: it runs only its own scripts and
// styles, talks only to its own origin (REST, SSE, and WebSocket: CSP's 'self' covers ws: and
// wss: of the same host), and is never framed.
var webSecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Frame-Options": "DENY",
	"Referrer-Policy": "same-origin",
}

// handleWeb serves the embedded web app: gzip-compressed when the client takes it, with an
// ETag, revalidated on every use (names carry no version; an unchanged file costs a 304).
// Paths it does not have get the JSON 404 like every other route, never an HTML page.
func (s *Server) handleWeb(c echo.Context) error {
	name := strings.TrimPrefix(path.Clean("/"+c.Param("*")), "/")
	if name == "" {
		name = "index.html"
	}
	f, ok := s.web.get(s.cfg.Web, name)
	if !ok {
		if s.web.err != nil {
			return internal(s.web.err)
		}
		return notFound("not_found", "nothing at %s %s", c.Request().Method, c.Request().URL.Path)
	}
	h := c.Response().Header()
	for k, v := range webSecurityHeaders {
		h.Set(k, v)
	}
	if name == "switchboard.js" {
		h.Set("X-TypeScript-Types", "./switchboard.d.ts") // where Deno and others find its types
	}
	serveFile(c, name, f)
	return nil
}

// serveFile answers with f, gzip-compressed when the client takes it, with its ETag; the
// client revalidates it on every use.
func serveFile(c echo.Context, name string, f *webFile) {
	h := c.Response().Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	body, etag := f.body, f.etag
	if f.gz != nil && acceptsGzip(c.Request()) {
		body, etag = f.gz, f.gzETag
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	http.ServeContent(c.Response(), c.Request(), name, time.Time{}, bytes.NewReader(body))
}
