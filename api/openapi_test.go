package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"switchboard/api"
	"switchboard/db"
	"switchboard/db/dbtest"
	"switchboard/realtime"
)

// openapi.json describes exactly the routes the server has: every route Echo registers is
// described, and every described operation is a route (CORS preflights, answered for any path
// by the CORS middleware, aside).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	e := newEnv(t, db.SQLite)
	c, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{(\w+)\}`)
	var described []string
	for path, item := range c.Doc.Paths.Map() {
		for method := range item.Operations() {
			if method != http.MethodOptions {
				described = append(described, method+" "+param.ReplaceAllString(path, ":$1"))
			}
		}
	}
	slices.Sort(described)
	served := e.api.Routes()
	for _, r := range served {
		if !slices.Contains(described, r) {
			t.Errorf("route %s is not described in api/openapi/openapi.json", r)
		}
	}
	for _, d := range described {
		if !slices.Contains(served, d) {
			t.Errorf("openapi.json describes %s, which the server does not have", d)
		}
	}
	if len(served) < 40 {
		t.Fatalf("only %d routes registered: %v", len(served), served)
	}
}

// The descriptions are served, to anyone and from any origin, and what is served is a valid
// OpenAPI 3.1 document whose streams refer to a valid event catalogue.
func TestDescriptionsAreServed(t *testing.T) {
	e := newEnv(t, db.SQLite)
	get := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+path, nil)
		req.Header.Set("Origin", "https://editor.example")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") ||
			res.Header.Get("Access-Control-Allow-Origin") != "*" || res.Header.Get("ETag") == "" {
			t.Fatalf("GET %s: %d %v", path, res.StatusCode, res.Header)
		}
		return body
	}
	// What is served is the embedded descriptions, byte for byte; the harness loads and
	// validates those once (contract), which fails every test if they are not valid.
	for _, name := range []string{"openapi.json", "events.schema.json"} {
		want, err := fs.ReadFile(api.Descriptions(), name)
		if err != nil {
			t.Fatal(err)
		}
		if got := get("/" + name); !bytes.Equal(got, want) {
			t.Fatalf("GET /%s serves %d bytes that are not the embedded %d", name, len(got), len(want))
		}
	}
	c, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	if c.Doc.OpenAPI != "3.1.0" || c.Doc.Paths.Find("/api/rooms/{room}/messages") == nil {
		t.Fatalf("served OpenAPI %s without the messages route", c.Doc.OpenAPI)
	}
}

// The event catalogue describes exactly the types the server sends (realtime.ServerEventTypes,
// the single list in the code), plus one entry for the types other backends publish.
func TestEventCatalogueListsEveryServerEventType(t *testing.T) {
	catalogue := eventCatalogue(t)
	var want []string
	for _, typ := range realtime.ServerEventTypes {
		want = append(want, string(typ))
	}
	slices.Sort(want)
	if got := catalogue.types(); !slices.Equal(got, want) {
		t.Fatalf("events.schema.json describes\n\t%v\nthe server sends\n\t%v", got, want)
	}
}

// The README's tables agree with the descriptions: every route its REST and Transports tables
// name is described and every described route is in them (/metrics is under Operating it),
// and its list of event types is the catalogue's.
func TestReadmeAgreesWithTheDescriptions(t *testing.T) {
	root, err := dbtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	section := func(heading string) string {
		i := strings.Index(readme, "\n## "+heading+"\n")
		if i < 0 {
			t.Fatalf("README.md lost its %q section", heading)
		}
		rest := readme[i+len(heading)+5:]
		if j := strings.Index(rest, "\n## "); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	listed := map[string]bool{}
	for _, s := range []string{section("Transports"), section("REST")} {
		for _, r := range readmeRoutes(s) {
			listed[r] = true
		}
	}
	c, err := contract()
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{(\w+)\}`)
	described := map[string]bool{}
	for path, item := range c.Doc.Paths.Map() {
		for method := range item.Operations() {
			if method != http.MethodOptions {
				described[method+" "+param.ReplaceAllString(path, ":$1")] = true
			}
		}
	}
	for r := range listed {
		if !described[r] {
			t.Errorf("README.md names %s, which openapi.json does not describe", r)
		}
	}
	for r := range described {
		if !listed[r] && r != "GET /metrics" {
			t.Errorf("README.md's REST table lacks %s", r)
		}
	}

	i := strings.Index(readme, "Event types: ")
	j := strings.Index(readme[i:], "\n\n")
	if i < 0 || j < 0 {
		t.Fatal("README.md lost its list of event types")
	}
	var types []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(readme[i:i+j], -1) {
		types = append(types, m[1])
	}
	slices.Sort(types)
	if got := eventCatalogue(t).types(); !slices.Equal(types, got) {
		t.Errorf("README.md lists the event types\n\t%v\nevents.schema.json describes\n\t%v", types, got)
	}
}

// readmeRoutes reads "METHOD /path" routes from a README table, from the first cell of a row
// that starts with a method: cells
// like "`GET`, `PATCH`, `DELETE /api/rooms/:room`" (methods that share the path after them),
// "`GET /api/admin/rooms/:room`, `…/messages`" (paths relative to the one before) and
// "`GET /api/rooms?limit=…`" (a query, left out).
func readmeRoutes(table string) []string {
	var out []string
	token := regexp.MustCompile("`([^`]+)`")
	route := regexp.MustCompile(`^([A-Z]+) (/\S*)$`)
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		var first string // the cell that names the route: the first to start with a method
		for _, cell := range strings.Split(strings.TrimPrefix(line, "| "), " | ") {
			if regexp.MustCompile("^`[A-Z]+[` ]").MatchString(cell) {
				first = cell
				break
			}
		}
		var methods, last []string
		base := ""
		for _, m := range token.FindAllStringSubmatch(first, -1) {
			tok, _, _ := strings.Cut(m[1], "?")
			switch {
			case regexp.MustCompile(`^[A-Z]+$`).MatchString(tok):
				methods = append(methods, tok)
			case route.MatchString(tok):
				r := route.FindStringSubmatch(tok)
				methods = append(methods, r[1])
				base, last = r[2], methods
				for _, method := range methods {
					out = append(out, method+" "+base)
				}
				methods = nil
			case strings.HasPrefix(tok, "…/") && base != "":
				for _, method := range last {
					out = append(out, method+" "+base+strings.TrimPrefix(tok, "…"))
				}
			}
		}
	}
	return out
}

// catalogue is the event catalogue, as far as these tests read it.
type catalogue struct {
	Defs map[string]struct {
		Properties struct {
			Type struct {
				Const string `json:"const"`
			} `json:"type"`
		} `json:"properties"`
	} `json:"$defs"`
}

func eventCatalogue(t *testing.T) catalogue {
	t.Helper()
	b, err := fs.ReadFile(api.Descriptions(), "events.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var c catalogue
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// types are the event types the catalogue fixes with a const.
func (c catalogue) types() []string {
	var out []string
	for _, d := range c.Defs {
		if typ := d.Properties.Type.Const; typ != "" {
			out = append(out, typ)
		}
	}
	slices.Sort(out)
	return out
}
