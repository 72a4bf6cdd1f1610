package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/db/dbtest"
)

// The web app's files go out gzip-compressed to clients that take it, with an ETag that a
// revalidation answers with 304; as they are to others.
func TestWebFilesAreServedCompressedWithETags(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	root, err := dbtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "web", "static", "switchboard.js"))
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}} // see the encoding as sent
	get := func(headers ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.base()+"/switchboard.js", nil)
		for i := 0; i < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	res, body := get("Accept-Encoding", "gzip, deflate, br")
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("ETag") == "" {
		t.Fatalf("with Accept-Encoding gzip: Content-Encoding %q, ETag %q", res.Header.Get("Content-Encoding"), res.Header.Get("ETag"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); string(got) != string(want) {
		t.Fatal("the gzip body does not decode to switchboard.js")
	}
	t.Logf("switchboard.js: %d bytes, %d gzipped", len(want), len(body))
	if again, _ := get("Accept-Encoding", "gzip", "If-None-Match", res.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidating with its ETag: %d, want 304", again.StatusCode)
	}

	res, body = get()
	if res.Header.Get("Content-Encoding") != "" || string(body) != string(want) || res.Header.Get("ETag") == "" {
		t.Fatalf("without Accept-Encoding: Content-Encoding %q, %d bytes", res.Header.Get("Content-Encoding"), len(body))
	}
	if res.Header.Get("Vary") != "Accept-Encoding" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("Vary %q, Cache-Control %q", res.Header.Get("Vary"), res.Header.Get("Cache-Control"))
	}
}

// The app's files carry a Content-Security-Policy that allows only its own scripts, styles and
// origin and no framing; every response, JSON included, says nosniff.
func TestWebFilesCarrySecurityHeaders(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for _, path := range []string{"/", "/switchboard.js", "/app/main.js", "/api/rooms"} {
		res, err := http.Get(s.base() + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", path, got)
		}
		if path == "/api/rooms" {
			continue
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if got := res.Header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s: X-Frame-Options %q", path, got)
		}
	}
}
