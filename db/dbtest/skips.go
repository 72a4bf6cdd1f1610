package dbtest

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// skips counts the tests skipped for a missing prerequisite, by what is missing.
var skips struct {
	sync.Mutex
	n   map[string]int
	why map[string]string
}

// Skip skips t because what (PostgreSQL, a browser) is missing, and remembers it for
// ReportSkips. Under CI=true it fails t instead: CI must run every test.
func Skip(t testing.TB, what, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI: %s", what, why)
	}
	skips.Lock()
	if skips.n == nil {
		skips.n, skips.why = map[string]int{}, map[string]string{}
	}
	skips.n[what]++
	skips.why[what] = why
	skips.Unlock()
	t.Skipf("no %s, skipping (set CI=true to fail instead): %s", what, why)
}

// ReportSkips tells the developer how many tests were skipped and why. `go test ./...` hides
// the output of a package that passed, so the summary also goes to the terminal (/dev/tty)
// when there is one. Call it from TestMain after m.Run.
func ReportSkips(pkg string) {
	skips.Lock()
	defer skips.Unlock()
	if len(skips.n) == 0 {
		return
	}
	whats := make([]string, 0, len(skips.n))
	for w := range skips.n {
		whats = append(whats, w)
	}
	sort.Strings(whats)
	var b strings.Builder
	for _, w := range whats {
		tests := "tests that need"
		if skips.n[w] == 1 {
			tests = "test that needs"
		}
		fmt.Fprintf(&b, "%s: SKIPPED %d %s %s: %s\n", pkg, skips.n[w], tests, w, skips.why[w])
	}
	b.WriteString(pkg + ": see README.md, \"Running the tests\", for what they need\n")
	os.Stderr.WriteString(b.String())
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		tty.WriteString(b.String())
		tty.Close()
	}
}
