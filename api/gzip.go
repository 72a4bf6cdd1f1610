package api

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Whole responses — long-poll answers, the web app's files — go out gzip-compressed when the
// client accepts it. Streams do not: see README (SSE is not compressed). Echo's Gzip
// middleware is not used: it holds a compressor for as long as a request runs, which for a
// long-poll is its whole wait.

// gzipMin is the smallest body worth compressing.
const gzipMin = 1024

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

// gzipBytes returns b gzip-compressed.
func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	w := gzipWriters.Get().(*gzip.Writer)
	w.Reset(&out)
	w.Write(b)
	w.Close()
	gzipWriters.Put(w)
	return out.Bytes()
}

// acceptsGzip reports whether r's Accept-Encoding takes gzip (or *) with a weight above 0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "gzip" && name != "*" {
				continue
			}
			q := 1.0
			if k, val, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}

// compressed returns body as it goes to r — gzip-compressed when r accepts it and it is worth
// it, with Content-Encoding set — and says that the answer varies with Accept-Encoding.
func compressed(w http.ResponseWriter, r *http.Request, body []byte) []byte {
	w.Header().Add("Vary", "Accept-Encoding")
	if len(body) < gzipMin || !acceptsGzip(r) {
		return body
	}
	w.Header().Set("Content-Encoding", "gzip")
	return gzipBytes(body)
}
