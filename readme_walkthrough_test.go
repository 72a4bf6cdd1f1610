package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"switchboard/db/dbtest"
)

// The README's quick start, curl walkthrough and token section work when pasted, in order,
// into fresh terminals. Each shell block there is marked <!-- walk: NAME, terminal N -->
// (optionally ", after Ctrl-C in terminal M"); the test runs its commands in that terminal —
// one bash per command, with the variables the terminal exported so far, in one directory
// shared by all — as a newcomer would: `go run .` is this binary (built already), the server
// listens on a free port instead of 8080, and `go test` is not run again from inside itself.
// Commands that do not end by themselves (the server, `curl -N`) run in the background until
// a later block presses Ctrl-C. Every other command must succeed and print no error; each
// step's own check follows.
func TestReadmeWalkthroughWorksWhenPasted(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			dbtest.Skip(t, tool, err.Error()+" (the README's walkthrough uses it)")
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps := walkSteps(t, string(readme))
	w := newWalk(t)
	checks := map[string]func(w *walk, out string){
		"server": func(w *walk, _ string) { w.untilReady() },
		"stream": func(w *walk, _ string) {
			w.jwt(2, "TOKEN")
			w.until(2, "the stream's connected event", func(s string) bool { return strings.Contains(s, "event: connected") })
			// curl writing into a pipe (| tee) prints its progress meter into the terminal, in
			// the middle of the events, unless told to be silent.
			if s := w.term(2).out.String(); strings.Contains(s, "% Total") {
				t.Fatalf("curl's progress meter is mixed into the stream (use curl -sN):\n%s", s)
			}
		},
		"post": func(w *walk, out string) {
			if !strings.Contains(out, `"content":"hello world"`) {
				t.Fatalf("posting answered %s", out)
			}
			w.until(2, "the message in the stream", func(s string) bool { return strings.Contains(s, `"content":"hello world"`) })
			// The README's sample shows every event that arrives (heartbeats aside).
			want := sampleEventTypes(t, string(readme))
			slices.Sort(want)
			w.until(2, fmt.Sprintf("the events of the README's sample %v", want), func(s string) bool {
				got := eventTypes(s)
				slices.Sort(got) // room_info may come a moment after the message
				return slices.Equal(got, want)
			})
			// ... with the fields they really have.
			sample, got := eventFields(t, sampleStream(t, string(readme))), eventFields(t, w.term(2).out.String())
			for typ, fields := range sample {
				if got[typ] != fields {
					t.Errorf("the README's sample %s has %s; the stream's has %s", typ, fields, got[typ])
				}
			}
		},
		"post-while-away": func(w *walk, out string) {
			if !strings.Contains(out, `"content":"did you miss me?"`) {
				t.Fatalf("posting answered %s", out)
			}
		},
		"resume": func(w *walk, _ string) {
			w.until(2, "the missed message, replayed", func(s string) bool {
				return strings.Contains(s, `"resumed":true`) && strings.Contains(s, `"content":"did you miss me?"`)
			})
			if s := w.term(2).out.String(); strings.Contains(s, "hello world") || strings.Contains(s, "event: reset") {
				t.Fatalf("the resumed stream replayed what was seen, or reset:\n%s", s)
			}
		},
		"token": func(w *walk, out string) {
			w.jwt(3, "ADMIN")
			if !strings.Contains(out, `"connections"`) {
				t.Fatalf("the admin API answered %s", out)
			}
		},
	}
	for _, st := range steps {
		check, ok := checks[st.name]
		if !ok {
			t.Fatalf("the README has a walk step %q this test does not check", st.name)
		}
		if st.interrupt != 0 {
			w.ctrlC(st.interrupt)
		}
		var out string
		for _, cmd := range st.commands {
			out = w.run(st.terminal, cmd)
		}
		check(w, out)
		t.Logf("step %s (terminal %d): ok", st.name, st.terminal)
	}
	for _, want := range []string{"server", "stream", "post", "post-while-away", "resume", "token"} {
		if !slices.ContainsFunc(steps, func(s walkStep) bool { return s.name == want }) {
			t.Errorf("the README lost its %q step", want)
		}
	}
}

// walkStep is one marked shell block of the README.
type walkStep struct {
	name      string
	terminal  int
	interrupt int // the terminal whose running command Ctrl-C stops first, if any
	commands  []string
}

var walkMarker = regexp.MustCompile(`^<!-- walk: ([a-z-]+), terminal (\d)(?:, after Ctrl-C in terminal (\d))? -->$`)

// walkSteps reads the marked blocks from the quick start up to the JS client's section, where
// every shell block must be marked: an unmarked one would be a command no test pastes.
func walkSteps(t *testing.T, readme string) []walkStep {
	t.Helper()
	start, end := strings.Index(readme, "\n## Quick start"), strings.Index(readme, "\n## The JS client")
	if start < 0 || end < start {
		t.Fatal("README.md lost its Quick start or The JS client heading")
	}
	lines := strings.Split(readme[start:end], "\n")
	var steps []walkStep
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```sh" {
			continue
		}
		var m []string
		if i > 0 {
			m = walkMarker.FindStringSubmatch(lines[i-1])
		}
		if m == nil {
			t.Fatalf("README.md: the shell block after %q has no <!-- walk: … --> marker", lines[max(i-2, 0)])
		}
		st := walkStep{name: m[1], terminal: int(m[2][0] - '0')}
		if m[3] != "" {
			st.interrupt = int(m[3][0] - '0')
		}
		for i++; i < len(lines) && lines[i] != "```"; i++ {
			line := lines[i]
			for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
				i++
				line += "\n" + lines[i]
			}
			if strings.TrimSpace(line) != "" {
				st.commands = append(st.commands, line)
			}
		}
		steps = append(steps, st)
	}
	return steps
}

// sampleStream returns the README's sample stream.
func sampleStream(t *testing.T, readme string) string {
	t.Helper()
	i := strings.Index(readme, "```\nretry: ")
	if i < 0 {
		t.Fatal("README.md lost its sample stream")
	}
	end := strings.Index(readme[i+4:], "```")
	return readme[i : i+4+end]
}

// sampleEventTypes returns the event types of the README's sample stream, in order.
func sampleEventTypes(t *testing.T, readme string) []string {
	return eventTypes(sampleStream(t, readme))
}

// eventFields returns, for each event type of an SSE stream, the fields of its envelope and
// of its data, sorted: "id ts type … | data: connection_id …".
func eventFields(t *testing.T, stream string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(stream, "\n") {
		payload, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var env map[string]json.RawMessage
		if err := json.Unmarshal([]byte(payload), &env); err != nil {
			t.Fatalf("undecodable event %s: %v", payload, err)
		}
		var data map[string]json.RawMessage
		json.Unmarshal(env["data"], &data)
		var typ string
		json.Unmarshal(env["type"], &typ)
		out[typ] = strings.Join(slices.Sorted(maps.Keys(env)), " ") + " | data: " + strings.Join(slices.Sorted(maps.Keys(data)), " ")
	}
	return out
}

// eventTypes lists the event: lines of an SSE stream, heartbeats left out.
func eventTypes(stream string) []string {
	var types []string
	for _, line := range strings.Split(stream, "\n") {
		if typ, ok := strings.CutPrefix(line, "event: "); ok && typ != "heartbeat" {
			types = append(types, typ)
		}
	}
	return types
}

// walk is the newcomer's desk: a directory and the terminals open in it.
type walk struct {
	t     *testing.T
	dir   string
	port  string
	path  string // PATH, with this binary as `switchboard` first
	terms map[int]*terminal
}

// terminal is one shell window: the variables exported in it, and the command running in the
// foreground, if any, with everything it printed.
type terminal struct {
	env     []string
	running *exec.Cmd
	out     *syncBuffer
}

func newWalk(t *testing.T) *walk {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\nSWITCHBOARD_TEST_MAIN=1 exec %q \"$@\"\n", self)
	if err := os.WriteFile(filepath.Join(bin, "switchboard"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	w := &walk{t: t, dir: t.TempDir(), port: port, path: bin + ":" + os.Getenv("PATH"), terms: map[int]*terminal{}}
	t.Cleanup(func() {
		for _, term := range w.terms {
			if term.running != nil {
				syscall.Kill(-term.running.Process.Pid, syscall.SIGKILL)
				term.running.Wait()
			}
		}
	})
	return w
}

// term returns terminal n, opening it: a fresh one knows no variables but the basics.
func (w *walk) term(n int) *terminal {
	if term, ok := w.terms[n]; ok {
		return term
	}
	term := &terminal{env: []string{"PATH=" + w.path, "HOME=" + w.dir, "TMPDIR=" + os.TempDir(), "LANG=C.UTF-8"}}
	// The server's port: 8080 may be taken on a test machine. In demo mode it keeps to
	// 127.0.0.1, as it does at 8080.
	term.env = append(term.env, "SWITCHBOARD_ADDR=127.0.0.1:"+w.port)
	w.terms[n] = term
	return term
}

// pasted is cmd as this test runs it: `go run .` is the built binary, 8080 the free port.
func (w *walk) pasted(cmd string) string {
	cmd = strings.ReplaceAll(cmd, "go run .", "switchboard")
	return strings.ReplaceAll(cmd, "localhost:8080", "localhost:"+w.port)
}

// run pastes one command into terminal n and returns what it printed; a command that does not
// end by itself is left running in the foreground.
func (w *walk) run(n int, cmd string) string {
	t := w.t
	t.Helper()
	if strings.HasPrefix(cmd, "go test") {
		return "" // the tests are what runs this
	}
	term, line := w.term(n), w.pasted(cmd)
	if term.running != nil {
		t.Fatalf("terminal %d: pasting %q while %q still runs", n, cmd, term.running.Args[2])
	}
	if runsUntilStopped(line) {
		c := exec.Command("bash", "-c", line)
		c.Dir, c.Env = w.dir, term.env
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C reaches the whole pipeline
		term.out = &syncBuffer{}
		c.Stdout, c.Stderr = term.out, term.out
		if err := c.Start(); err != nil {
			t.Fatalf("terminal %d: %q: %v", n, cmd, err)
		}
		term.running = c
		return ""
	}
	envFile := filepath.Join(t.TempDir(), "env")
	script := "set -o pipefail\n" + line + "\nstatus=$?\nenv -0 > " + envFile + "\nexit $status"
	c := exec.Command("bash", "-c", script)
	c.Dir, c.Env = w.dir, term.env
	timer := time.AfterFunc(time.Minute, func() { c.Process.Kill() })
	out, err := c.CombinedOutput()
	timer.Stop()
	if err != nil || bytes.Contains(out, []byte(`"error":`)) {
		t.Fatalf("terminal %d: %q: %v\n%s", n, cmd, err, out)
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	term.env = nil
	for _, kv := range strings.Split(strings.TrimSuffix(string(env), "\x00"), "\x00") {
		if !strings.HasPrefix(kv, "_=") && !strings.HasPrefix(kv, "SHLVL=") && !strings.HasPrefix(kv, "PWD=") {
			term.env = append(term.env, kv)
		}
	}
	return string(out)
}

// runsUntilStopped reports whether a command line goes on until Ctrl-C: the server (the
// binary with flags only, no subcommand) or a streaming curl.
func runsUntilStopped(line string) bool {
	if code, _, ok := strings.Cut(line, " #"); ok {
		line = code
	}
	fields := strings.Fields(line)
	return strings.Contains(line, "curl -N") || strings.Contains(line, "curl -sN") ||
		len(fields) > 0 && fields[0] == "switchboard" && (len(fields) == 1 || strings.HasPrefix(fields[1], "-"))
}

// ctrlC stops what runs in the foreground of terminal n.
func (w *walk) ctrlC(n int) {
	t := w.t
	t.Helper()
	term := w.term(n)
	if term.running == nil {
		t.Fatalf("Ctrl-C in terminal %d, where nothing runs", n)
	}
	syscall.Kill(-term.running.Process.Pid, syscall.SIGINT)
	exited := make(chan struct{})
	go func() { term.running.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("terminal %d: %q did not stop on Ctrl-C", n, term.running.Args[2])
	}
	term.running = nil
}

// until waits for what terminal n's foreground command printed to satisfy ok.
func (w *walk) until(n int, what string, ok func(string) bool) {
	t := w.t
	t.Helper()
	term := w.term(n)
	deadline := time.Now().Add(15 * time.Second)
	for !ok(term.out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal %d never showed %s; it printed:\n%s", n, what, term.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// untilReady waits for the server the quick start started to answer /readyz.
func (w *walk) untilReady() {
	t := w.t
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get("http://127.0.0.1:" + w.port + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never became ready: %v; it printed:\n%s", err, w.term(1).out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jwt checks that terminal n holds a token in the variable name.
func (w *walk) jwt(n int, name string) {
	w.t.Helper()
	for _, kv := range w.term(n).env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok && strings.Count(v, ".") == 2 && strings.HasPrefix(v, "ey") {
			return
		}
	}
	w.t.Fatalf("terminal %d has no token in $%s", n, name)
}

// syncBuffer is a bytes.Buffer a running command writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
