package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report collects a run's figures in order: the table shows them with units and notes, the
// JSON line carries every one under its key.
type report struct {
	rows []row
}

type row struct {
	key  string
	val  any
	unit string
	note string
}

// newReport starts a report with what identifies the run.
func newReport(cfg config, t *target) *report {
	r := &report{}
	r.add("scenario", cfg.scenario, "", "")
	r.add("date", time.Now().UTC().Format(time.RFC3339), "", "")
	r.add("go", runtime.Version(), "", "")
	r.add("cpus", runtime.NumCPU(), "", "")
	if rev := gitRevision(); rev != "" {
		r.add("revision", rev, "", "")
	}
	r.add("server", t.base, "", "")
	if cfg.serverBin != "" {
		r.add("server_bin", cfg.serverBin, "", "the server binary spawned (revision above is the working tree's)")
	}
	r.add("database", t.dbKind, "", "")
	r.add("spawned", t.server != nil, "", "")
	r.add("nofile_limit", fileLimit(), "", "")
	r.add("loadavg_start", loadAvg(), "", "1-minute load average before the run: above the core count, other work shares the machine and figures are noisy")
	return r
}

// loadAvg returns the 1-minute load average, or -1.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f, _, _ := strings.Cut(string(b), " ")
	v, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return -1
	}
	return v
}

// add appends one figure; floats are rounded to 3 decimals.
func (r *report) add(key string, val any, unit, note string) {
	if f, ok := val.(float64); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			val = nil
		} else {
			val = math.Round(f*1000) / 1000
		}
	}
	for i := range r.rows {
		if r.rows[i].key == key {
			r.rows[i] = row{key, val, unit, note}
			return
		}
	}
	r.rows = append(r.rows, row{key, val, unit, note})
}

// has reports whether the report holds key.
func (r *report) has(key string) bool {
	for _, row := range r.rows {
		if row.key == key {
			return true
		}
	}
	return false
}

// print writes the table, then exactly one JSON line with every figure.
func (r *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tunit\tnote")
	for _, row := range r.rows {
		val := "—"
		if row.val != nil {
			val = fmt.Sprint(row.val)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.key, val, row.unit, row.note)
	}
	tw.Flush()
	var b bytes.Buffer
	b.WriteByte('{')
	for i, row := range r.rows {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(row.key)
		v, err := json.Marshal(row.val)
		if err != nil {
			v, _ = json.Marshal(fmt.Sprint(row.val))
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteString("}\n")
	w.Write(b.Bytes())
}

// gitRevision names the commit of the working tree, with "-dirty" when it has changes.
func gitRevision() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
