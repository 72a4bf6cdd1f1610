package web_test

import (
	"bytes"
	"compress/gzip"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"switchboard/db/dbtest"
)

// The README states the client's gzipped size; this keeps the figure measured: it must be the
// client's modules (switchboard.js and switchboard/*.js) each compressed at the best level,
// added up, to within a tenth of a KB.
func TestReadmeStatesTheClientsSize(t *testing.T) {
	root, err := dbtest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\*\*([0-9.]+) KB gzipped\*\*`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md states no gzipped size of the client (**N.N KB gzipped**)")
	}
	stated, _ := strconv.ParseFloat(string(m[1]), 64)
	static := filepath.Join(root, "web", "static")
	files, err := filepath.Glob(filepath.Join(static, "switchboard", "*.js"))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, name := range append(files, filepath.Join(static, "switchboard.js")) {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		z, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		z.Write(src)
		z.Close()
		total += buf.Len()
	}
	if measured := float64(total) / 1000; math.Abs(measured-stated) > 0.1 {
		t.Fatalf("README.md says the client is %.1f KB gzipped; its modules are %.2f KB, each gzipped", stated, measured)
	}
}
