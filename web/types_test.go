package web_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"switchboard/db/dbtest"
	"switchboard/realtime"
)

// switchboard.d.ts describes switchboard.js: a usage example type-checks against it with tsc
// (strict), a misuse does not, and every public method of the client is declared. tsc comes
// from $TSC, else from PATH; .ci/run installs it from npm. Without it (or node) the test skips,
// except under CI=true, where it fails.

func TestTypeDeclarationsDescribeTheClient(t *testing.T) {
	tsc, node := tool(t, "TSC", "tsc"), tool(t, "NODE", "node")
	root, err := dbtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	static := filepath.Join(root, "web", "static")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(static)); err != nil { // the module, its parts, its types
		t.Fatal(err)
	}
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("usage.ts", `import { connect, uid, type ClientError, type StateEvent } from './switchboard.js'

const sb = connect({
  token: 'x', rooms: ['general'], transports: ['ws', 'sse'], backoff: { max: 10000 },
  getToken: async () => (await fetch('/token')).text()
})
const off = sb.on('chat_message', (ev) => console.log(ev.data.content.toUpperCase(), ev.id))
sb.on('error', (e: ClientError) => console.warn(e.status + 1, e.code, e.room ?? ''))
sb.on('reconnecting', (e: StateEvent) => console.log(e.attempt, e.delay, e.why))
sb.on('connected', (ev) => console.log(ev.data.heartbeat_ms * 2, ev.data.expires_at))
sb.on('data_update', (ev) => console.log(ev))
off()
async function main (): Promise<void> {
  await sb.ready()
  const joined = await sb.join('random')
  const m = await sb.send('general', 'hello', uid())
  const page = await sb.history('general', { limit: 10 })
  console.log(joined.subscribed, m.seq + 1, page.messages.length, sb.state === 'open', sb.transport)
  sb.setToken('y')
  await sb.markRead('general', m.id)
  await sb.presence('away')
  sb.close()
}
main()
`)
	write("misuse.ts", `import { connect } from './switchboard.js'
const sb = connect({ transports: ['carrier-pigeon'] })
sb.on('open', (e) => e.state.toFixed())
sb.send('general', 42)
`)
	check := func(file string) (string, error) {
		cmd := exec.Command(tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "es2022",
			"--moduleResolution", "bundler", "--lib", "es2022,dom", file)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := check("usage.ts"); err != nil {
		t.Fatalf("the usage example does not type-check: %v\n%s", err, out)
	}
	out, err := check("misuse.ts")
	if err == nil {
		t.Fatal("a misuse type-checks: the declarations do not constrain anything")
	}
	for line, what := range []string{2: "an unknown transport", 3: "a state taken for a number", 4: "a number sent as a message"} {
		if what != "" && !strings.Contains(out, "misuse.ts("+strconv.Itoa(line)+",") {
			t.Errorf("tsc did not object to %s (misuse.ts line %d):\n%s", what, line, out)
		}
	}

	// Every public method and accessor of Client, as node sees the module, is declared.
	cmd := exec.Command(node, "--input-type=module", "-e", `const m = await import(process.argv[1])
console.log(JSON.stringify(Object.getOwnPropertyNames(m.Client.prototype).filter((n) => n !== 'constructor' && !n.startsWith('_'))))`,
		"file://"+filepath.Join(dir, "switchboard.js"))
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("node could not load the module: %v", err)
	}
	var methods []string
	if err := json.Unmarshal(b, &methods); err != nil || len(methods) < 10 {
		t.Fatalf("methods of Client: %s (%v)", b, err)
	}
	decl, _ := os.ReadFile(filepath.Join(dir, "switchboard.d.ts"))
	declared := regexp.MustCompile(`(?m)^  (?:readonly )?(\w+)\??\s*[<(:]`).FindAllStringSubmatch(string(decl), -1)
	var names []string
	for _, m := range declared {
		names = append(names, m[1])
	}
	for _, m := range methods {
		if !slices.Contains(names, m) {
			t.Errorf("Client.%s is not declared in switchboard.d.ts", m)
		}
	}
}

// tool returns the path of a command named by $env, else found in PATH. Without it the test
// skips, except under CI=true.
func tool(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	p, err := exec.LookPath(name)
	if err != nil {
		dbtest.Skip(t, name, fmt.Sprintf("%v (set $%s, or npm install -g typescript)", err, env))
	}
	return p
}

// The client is served with its types: the declarations at /switchboard.d.ts as TypeScript, and
// the module pointing at them.
func TestClientIsServedWithItsTypes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for path, want := range map[string][2]string{
		"/switchboard.js":   {"text/javascript; charset=utf-8", "./switchboard.d.ts"},
		"/switchboard.d.ts": {"application/typescript; charset=utf-8", ""},
	} {
		res, err := http.Get(s.base() + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if ct, types := res.Header.Get("Content-Type"), res.Header.Get("X-TypeScript-Types"); res.StatusCode != 200 || ct != want[0] || types != want[1] {
			t.Errorf("GET %s: %d, Content-Type %q, X-TypeScript-Types %q; want 200, %q, %q", path, res.StatusCode, ct, types, want[0], want[1])
		}
	}
}

// The client listens for every event type the server sends (EventSource needs a listener per
// type), and for no type the server does not have.
func TestClientKnowsEveryServerEventType(t *testing.T) {
	root, err := dbtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "web", "static", "switchboard", "connection.js"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)const TYPES = \((.*?)\)\.split`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no TYPES list in switchboard/connection.js")
	}
	listed := strings.Fields(strings.NewReplacer("'", "", "+", "", "\n", " ").Replace(string(m[1])))
	var server []string
	for _, typ := range realtime.ServerEventTypes {
		server = append(server, string(typ))
	}
	slices.Sort(listed)
	slices.Sort(server)
	if !slices.Equal(listed, server) {
		t.Fatalf("the client listens for\n\t%v\nthe server sends\n\t%v", listed, server)
	}
}

// switchboard.d.ts agrees with the event catalogue (api/openapi/events.schema.json): every
// event type it declares a data shape for exists, with every field it names, and a field it
// says is always there is required by the catalogue.
func TestTypeDeclarationsAgreeWithTheEventCatalogue(t *testing.T) {
	root, err := dbtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "web", "static", "switchboard.d.ts"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "api", "openapi", "events.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	type schema struct {
		Ref   string `json:"$ref"`
		AllOf []struct {
			Ref string `json:"$ref"`
		} `json:"allOf"`
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var cat struct {
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &cat); err != nil {
		t.Fatal(err)
	}
	// data returns the schema of an event type's data, following one $ref within the file.
	data := func(typ string) (schema, bool) {
		var ev struct {
			Properties struct {
				Data schema `json:"data"`
			} `json:"properties"`
		}
		def, ok := cat.Defs[typ]
		if !ok || json.Unmarshal(def, &ev) != nil {
			return schema{}, false
		}
		d := ev.Properties.Data
		refs := []string{d.Ref}
		for _, a := range d.AllOf {
			refs = append(refs, a.Ref)
		}
		for _, ref := range refs { // what the data takes from the shapes it refers to
			if name, ok := strings.CutPrefix(ref, "#/$defs/"); ok {
				var shared schema
				json.Unmarshal(cat.Defs[name], &shared)
				d.Required = append(d.Required, shared.Required...)
				if d.Properties == nil {
					d.Properties = map[string]json.RawMessage{}
				}
				maps.Copy(d.Properties, shared.Properties)
			}
		}
		return d, true
	}
	// fields returns the properties of an inline object type or a declared interface, each
	// with whether it is optional.
	prop := regexp.MustCompile(`(\w+)(\?)?\s*:`)
	fields := func(shape string) map[string]bool {
		if name := strings.TrimSpace(shape); regexp.MustCompile(`^\w+$`).MatchString(name) {
			m := regexp.MustCompile(`(?s)export interface ` + name + ` \{(.*?)\n\}`).FindSubmatch(src)
			if m == nil {
				t.Fatalf("switchboard.d.ts has no interface %s", name)
			}
			shape = string(m[1])
		}
		shape = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`).ReplaceAllString(shape, "") // comments
		out := map[string]bool{}
		for _, m := range prop.FindAllStringSubmatch(shape, -1) {
			out[m[1]] = m[2] == "?"
		}
		return out
	}
	events := regexp.MustCompile(`(?s)export interface Events \{(.*?)\n\}`).FindSubmatch(src)
	if events == nil {
		t.Fatal("switchboard.d.ts has no Events interface")
	}
	checked := 0
	for _, m := range regexp.MustCompile(`(?m)^\s+(\w+): Envelope<(.*)>$`).FindAllStringSubmatch(string(events[1]), -1) {
		typ, shape := m[1], m[2]
		d, ok := data(typ)
		if !ok {
			t.Errorf("switchboard.d.ts declares event %s, which events.schema.json does not describe", typ)
			continue
		}
		for field, optional := range fields(strings.Trim(shape, "{} ")) {
			if _, ok := d.Properties[field]; !ok {
				t.Errorf("switchboard.d.ts: %s data has %s, which events.schema.json does not", typ, field)
			} else if !optional && !slices.Contains(d.Required, field) {
				t.Errorf("switchboard.d.ts: %s data.%s is always there, but events.schema.json does not require it", typ, field)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d event types checked", checked)
	}
}
