package apitest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Contract holds the API's descriptions — the OpenAPI document and the event catalogue —
// loaded once; its Watches check real traffic against them.
type Contract struct {
	Doc    *openapi3.T
	router routers.Router
	events *jsonschema.Schema
}

// Watch checks one test's traffic against a Contract: every REST request and response that
// passes through its Middleware, and every event handed to CheckEvent. What does not match is
// kept as a violation, for the test to report when it ends. It is safe for concurrent use.
type Watch struct {
	c          *Contract
	mu         sync.Mutex
	violations []string
}

// Watch starts checking traffic.
func (c *Contract) Watch() *Watch { return &Watch{c: c} }

// NewContract loads the OpenAPI document (which refers to the catalogue as
// events.schema.json) and the event catalogue, and checks that both are valid.
func NewContract(openapiJSON, eventsJSON []byte) (*Contract, error) {
	loader := openapi3.NewLoader()
	loader.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		if strings.TrimPrefix(u.Path, "/") == "events.schema.json" {
			return eventsJSON, nil
		}
		return nil, fmt.Errorf("the OpenAPI document refers to %s, which is not one of the descriptions", u)
	}
	doc, err := loader.LoadFromDataWithPath(openapiJSON, &url.URL{Path: "openapi.json"})
	if err != nil {
		return nil, fmt.Errorf("loading openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json is not a valid OpenAPI document: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("openapi.json says OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	doc.Servers = openapi3.Servers{{URL: "/"}} // match requests to any test server
	// The events of a long-poll answer are checked against the catalogue by CheckEvent, whose
	// schema is compiled once; through the OpenAPI document it would be compiled per answer.
	if ev := doc.Components.Schemas["Event"]; ev != nil && ev.Value != nil {
		*ev.Value = openapi3.Schema{Type: &openapi3.Types{openapi3.TypeObject}}
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	catalogue, err := jsonschema.UnmarshalJSON(bytes.NewReader(eventsJSON))
	if err != nil {
		return nil, fmt.Errorf("events.schema.json: %w", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("events.schema.json", catalogue); err != nil {
		return nil, err
	}
	events, err := c.Compile("events.schema.json")
	if err != nil {
		return nil, fmt.Errorf("events.schema.json is not a valid JSON Schema: %w", err)
	}
	return &Contract{Doc: doc, router: router, events: events}, nil
}

// Violations returns what did not match the descriptions so far.
func (c *Watch) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

func (c *Watch) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(msg) > 2000 {
		msg = msg[:2000] + "…"
	}
	c.mu.Lock()
	c.violations = append(c.violations, msg)
	c.mu.Unlock()
}

// CheckEvent checks one event envelope, as a client received it, against the catalogue.
func (c *Watch) CheckEvent(raw []byte) {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err == nil {
		err = c.c.events.Validate(inst)
	}
	if err != nil {
		c.violate("event %s does not match events.schema.json: %v", raw, err)
	}
}

// Middleware checks every request the server answers, except streams and the web app's files:
// the route and its status must be described, the answer must match its schema, and a
// request the server accepted must match the request's description (a refused one is what
// the error answers describe).
func (c *Watch) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" || r.URL.Path == "/events" {
			next.ServeHTTP(w, r) // streams: their events go through CheckEvent
			return
		}
		var reqBody bytes.Buffer
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = readTee{r.Body, &reqBody}
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		c.check(r, reqBody.Bytes(), rec)
	})
}

func (c *Watch) check(r *http.Request, reqBody []byte, rec *recorder) {
	status := rec.status
	if r.Method == http.MethodHead || status == http.StatusNotModified || rec.streamed || !rec.wrote {
		return // not a document; or nothing was written, as for a long-poll whose client left
	}
	name := r.Method + " " + r.URL.Path
	route, params, err := c.c.router.FindRoute(r)
	if err != nil {
		switch {
		case !strings.HasPrefix(r.URL.Path, "/api/") && r.Method == http.MethodGet && status < 300:
			// a file of the web app
		case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
			// a path or method the server does not have, answered as such
		default:
			c.violate("%s answered %d, but openapi.json does not describe it: %v", name, status, err)
		}
		return
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if status < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.violate("%s was accepted (%d), but the request does not match openapi.json: %v", name, status, err)
		}
	}
	body := rec.body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			c.violate("%s: undecodable gzip answer: %v", name, err)
			return
		}
	}
	if route.Path == "/poll" && status == http.StatusOK {
		// The hot path of stream tests: kin-openapi compiles a response's schema for every
		// validation, so a long-poll answer is checked here, its events against the catalogue.
		var answer struct {
			Events       []json.RawMessage `json:"events"`
			Cursor       *string           `json:"cursor"`
			ConnectionID *string           `json:"connection_id"`
		}
		if err := json.Unmarshal(body, &answer); err != nil || answer.Events == nil || answer.Cursor == nil || answer.ConnectionID == nil {
			c.violate("%s answered %d %s: not a long-poll answer {events, cursor, connection_id} (%v)", name, status, body, err)
		}
		for _, ev := range answer.Events {
			c.CheckEvent(ev)
		}
		return
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status,
		Header: rec.Header(), Body: io.NopCloser(bytes.NewReader(body)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.violate("%s answered %d %s, which does not match openapi.json: %v", name, status, body, err)
	}
}

// readTee keeps a copy of what the handler reads of a request body.
type readTee struct {
	io.ReadCloser
	copy *bytes.Buffer
}

func (t readTee) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.copy.Write(p[:n])
	return n, err
}

// recorder passes a response on and keeps its status and body.
type recorder struct {
	http.ResponseWriter
	status   int
	wrote    bool
	streamed bool // flushed before the end: a stream, not a document
	body     bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	if r.body.Len() < 4<<20 {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

func (r *recorder) Flush() {
	if strings.HasPrefix(r.Header().Get("Content-Type"), "text/event-stream") {
		r.streamed = true
	}
	http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (write deadlines, hijacking).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
