package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// Limits on client input.
const (
	maxRoomKeyLen   = 100
	maxContentChars = 1000
	maxClientIDLen  = 100
)

// validRoomKey reports whether key addresses a room: 1–100 characters of [A-Za-z0-9_.:-].
func validRoomKey(key string) bool {
	if len(key) == 0 || len(key) > maxRoomKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		switch ch := key[i]; {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			ch == '_', ch == '.', ch == ':', ch == '-':
		default:
			return false
		}
	}
	return true
}

func checkRoomKey(field, key string) error {
	if !validRoomKey(key) {
		return invalid(field, "room must be 1–%d characters of letters, digits, '_', '.', ':' or '-'", maxRoomKeyLen)
	}
	return nil
}

// checkContent validates a message's content: not blank, at most 1000 characters.
func checkContent(content string) error {
	if !utf8.ValidString(content) {
		return invalid("content", "content must be valid UTF-8")
	}
	if strings.ContainsRune(content, 0) {
		return invalid("content", "content must not contain the NUL character (\\u0000)")
	}
	if strings.TrimSpace(content) == "" {
		return invalid("content", "content must not be empty")
	}
	if n := utf8.RuneCountInString(content); n > maxContentChars {
		return invalid("content", "content is %d characters; the limit is %d", n, maxContentChars)
	}
	return nil
}

func checkClientID(id string) error {
	if len(id) > maxClientIDLen {
		return invalid("client_id", "client_id must be at most %d characters", maxClientIDLen)
	}
	if strings.ContainsRune(id, 0) {
		return invalid("client_id", "client_id must not contain the NUL character (\\u0000)")
	}
	return nil
}

// bindJSON decodes the request body, one JSON object, into v. Unknown fields are ignored so
// that older servers accept newer clients.
func bindJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var tooLarge *echo.HTTPError
		if errors.As(err, &tooLarge) {
			return tooLarge
		}
		return badRequest("invalid_body", "", "could not read the request body")
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes one JSON object into v with errors that name the offending field.
func decodeJSON(body []byte, v any) error {
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return badRequest("invalid_json", "", "the request body must be a JSON object")
	}
	if hasNULEscape(body) {
		return badRequest("validation_failed", "", "text must not contain the NUL character (\\u0000): it cannot be stored")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return invalid(typeErr.Field, "%s must be %s", typeErr.Field, jsonTypeName(typeErr.Type.Kind().String()))
		case errors.As(err, &syntaxErr):
			return badRequest("invalid_json", "", "the request body is not valid JSON (at byte %d)", syntaxErr.Offset)
		}
		return badRequest("invalid_json", "", "the request body is not valid JSON")
	}
	if dec.More() {
		return badRequest("invalid_json", "", "the request body must hold one JSON object")
	}
	return nil
}

// hasNULEscape reports whether a JSON text holds a NUL character: the escape \u0000, its
// backslash not itself escaped (JSON strings carry control characters only as escapes).
func hasNULEscape(body []byte) bool {
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte(`\u0000`))
		if j < 0 {
			return false
		}
		j += i
		slashes := 1
		for k := j - 1; k >= 0 && body[k] == '\\'; k-- {
			slashes++
		}
		if slashes%2 == 1 {
			return true
		}
		i = j + 1
	}
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int64", "uint64", "float64", "int32", "uint32":
		return "a number"
	}
	return fmt.Sprintf("a %s", kind)
}

// messageID parses the id of a message in any form uuid accepts and returns it canonical, as
// stored (PostgreSQL and SQLite compare ids differently otherwise).
func messageID(field, raw string) (string, error) {
	id, err := uuid.Parse(raw)
	if err != nil {
		return "", invalid(field, "%s must be the id of a message", field)
	}
	return id.String(), nil
}

// parseTime parses an optional RFC 3339 timestamp from a request field.
func parseTime(field, raw string) (time.Time, error) {
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		return time.Time{}, invalid(field, "%s must be an RFC 3339 timestamp such as 2026-11-26T12:00:00Z", field)
	}
	return t.UTC(), nil
}

// Pages of listings: how many entries the limit query parameter asks for, and where the page
// ends (before, an id).
const (
	defaultAuditPage = 50
	maxAuditPage     = 200
)

// pageLimit reads the limit query parameter: def when absent, else a whole number from 1 to max.
func pageLimit(c echo.Context, def, max int) (int, error) {
	raw := c.QueryParam("limit")
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > max {
		return 0, invalid("limit", "limit must be a whole number from 1 to %d", max)
	}
	return n, nil
}

// pageBefore reads the before query parameter: the id the page ends before, or "" for the
// newest page.
func pageBefore(c echo.Context) (string, error) {
	if raw := c.QueryParam("before"); raw != "" {
		return messageID("before", raw)
	}
	return "", nil
}
