package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// upgradeRequired is the answer to a request of /ws that asks for no upgrade.
func upgradeRequired() *Error {
	return &Error{Status: http.StatusUpgradeRequired, Code: "upgrade_required",
		Message: "this endpoint speaks WebSocket; use /events for Server-Sent Events or /poll for long-polling"}
}

// originNotAllowed refuses a WebSocket from an origin the server does not allow.
func originNotAllowed() *Error {
	return &Error{Status: http.StatusForbidden, Code: "origin_not_allowed",
		Message: "WebSocket connections from this origin are not allowed"}
}

// isUpgrade reports whether r asks to be upgraded to a WebSocket.
func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

// checkWSHandshake validates a request that asks for the upgrade (isUpgrade) before anything
// is done for it, so that a bad handshake or a foreign origin gets the JSON error body and
// leaves no trace. The WebSocket library checks the same again when it accepts.
func (s *Server) checkWSHandshake(r *http.Request) error {
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		return badRequest("bad_handshake", "", "only WebSocket protocol version 13 is supported")
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return badRequest("bad_handshake", "", "the handshake needs exactly one Sec-WebSocket-Key")
	}
	if k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(k) != 16 {
		return badRequest("bad_handshake", "", "Sec-WebSocket-Key must be 16 bytes in base64")
	}
	if !originAllowed(r, s.cfg.WSOriginPatterns) {
		return originNotAllowed()
	}
	return nil
}

// originAllowed reports whether a browser request's Origin is the server's own host or
// matches one of the allowed host patterns (path.Match syntax; a pattern with "://" matches
// scheme and host). Requests without Origin come from non-browser clients and are allowed.
func originAllowed(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(r.Host, u.Host) {
		return true
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, err := path.Match(strings.ToLower(p), strings.ToLower(target)); err == nil && ok {
			return true
		}
	}
	return false
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
