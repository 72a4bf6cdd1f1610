package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"switchboard/api/auth"
	"switchboard/db"
	"switchboard/realtime"
)

// Error is a client-facing error: an HTTP status and the one JSON error body of the API,
// {"error":{"code","message","field"}}. Every handler error reaches the client through it.
type Error struct {
	Status     int    `json:"-"`
	Code       string `json:"code"`
	Message    string `json:"message"`
	Field      string `json:"field,omitempty"`
	RetryAfter int    `json:"-"` // seconds, for 429 and 503
	RequestID  string `json:"request_id,omitempty"`
	cause      error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.cause }

// Fault returns e as an in-band WebSocket fault.
func (e *Error) Fault() *realtime.Fault {
	return &realtime.Fault{Code: e.Code, Message: e.Message, Field: e.Field}
}

func badRequest(code, field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *Error {
	return badRequest("validation_failed", field, format, args...)
}

func notFound(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *Error {
	return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: fmt.Sprintf(format, args...)}
}

func unauthorized(code, message string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: code, Message: message}
}

func conflict(code, format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

func unavailable(message string, retryAfter int, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: message,
		RetryAfter: retryAfter, cause: cause}
}

// shuttingDown refuses a new stream while the server drains: the client reconnects, through
// a proxy to another node, or here once the server is back.
func shuttingDown() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "shutting_down", RetryAfter: 1,
		Message: "the server is shutting down; reconnect", cause: realtime.ErrShuttingDown}
}

func internal(cause error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: "internal",
		Message: "the server could not complete this request", cause: cause}
}

// asError maps any error to the Error a client sees. Database outages become 503 with
// Retry-After; errors nobody anticipated become a bare 500 whose detail goes to the log only.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var refused *auth.Error
	if errors.As(err, &refused) {
		return unauthorized(refused.Code, refused.Message)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromEchoError(he)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &Error{Status: statusClientClosed, Code: "client_closed_request", Message: "the client closed the request", cause: err}
	case errors.Is(err, realtime.ErrClosed):
		return unavailable("the connection closed while it was being set up; reconnect", 1, err)
	case errors.Is(err, db.ErrUnavailable):
		return unavailable("the database is unavailable; try again shortly", 2, err)
	case errors.Is(err, context.DeadlineExceeded):
		return unavailable("the server is overloaded; try again shortly", 2, err)
	case errors.Is(err, realtime.ErrShuttingDown):
		return shuttingDown()
	case errors.Is(err, realtime.ErrTooManyTopics):
		return conflict("too_many_subscriptions", "this connection already has the maximum number of subscriptions")
	}
	return internal(err)
}

func fromEchoError(he *echo.HTTPError) *Error {
	msg := http.StatusText(he.Code)
	if s, ok := he.Message.(string); ok && s != "" {
		msg = s
	}
	code := map[int]string{
		http.StatusNotFound:              "not_found",
		http.StatusMethodNotAllowed:      "method_not_allowed",
		http.StatusRequestEntityTooLarge: "payload_too_large",
		http.StatusUnsupportedMediaType:  "unsupported_media_type",
		http.StatusTooManyRequests:       "rate_limited",
		http.StatusUnauthorized:          "unauthorized",
		http.StatusForbidden:             "forbidden",
		http.StatusBadRequest:            "bad_request",
	}[he.Code]
	if code == "" {
		if he.Code >= 500 {
			return internal(he)
		}
		code = "bad_request"
	}
	return &Error{Status: he.Code, Code: code, Message: msg, cause: he.Internal}
}

// statusClientClosed (nginx's 499) marks a request whose client went away: nobody is there to
// answer, and it is not the server's error.
const statusClientClosed = 499

// handleError is Echo's HTTPErrorHandler: one path from any error to the JSON error body.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return // a stream already started; its end is the signal
	}
	e := asError(err)
	if e.Status == statusClientClosed {
		c.Response().Status = statusClientClosed // for the request log and metrics; nothing is sent
		return
	}
	if errors.Is(err, db.ErrUnavailable) {
		s.metrics.dbErrors.Inc()
	}
	if e.Status >= 500 && e.Code != "shutting_down" { // refusing streams is what draining does
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Path(),
			"request_id", requestID(c), "status", e.Status, "err", err)
	}
	if e.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
	}
	body := *e
	body.RequestID = requestID(c)
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(e.Status)
		return
	}
	_ = c.JSON(e.Status, map[string]*Error{"error": &body})
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
