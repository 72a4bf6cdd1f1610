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
	"runtime/debug"
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
	if cfg.label != "" {
		r.add("label", cfg.label, "", "")
	}
	r.add("args", commandLine(cfg.args), "", "the generator's flags but -label, -server-bin and -server-rev (reported apart)")
	r.add("date", time.Now().UTC().Format(time.RFC3339), "", "")
	r.add("go", runtime.Version(), "", "")
	r.add("cpus", runtime.NumCPU(), "", "")
	m := readMachine()
	r.add("cpu_model", m.cpuModel, "", "")
	r.add("mem_total_mib", m.memMiB, "MiB", "")
	r.add("kernel", m.kernel, "", "")
	if rev := gitRevision(); rev != "" {
		r.add("revision", rev, "", "the generator's (and the server's unless -server-bin)")
	}
	r.add("server", t.base, "", "")
	if cfg.serverBin != "" {
		r.add("server_bin", cfg.serverBin, "", "the server binary spawned")
	}
	if cfg.serverRev != "" {
		r.add("server_rev", cfg.serverRev, "", "the revision the server was built from")
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

// gitRevision names the commit the generator was built from, with "-dirty" when the tree had
// changes: the VCS stamp of a built binary, else (go run stamps none) the working tree's.
func gitRevision() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			rev = rev[:min(len(rev), 7)]
			if modified == "true" {
				rev += "-dirty"
			}
			return rev
		}
	}
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// commandLine joins the flags of a run for a shell, without the ones that name this run
// rather than its load (-label, -server-bin, -server-rev: reported on their own).
func commandLine(args []string) string {
	var out []string
	for i := 0; i < len(args); i++ {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if strings.HasPrefix(args[i], "-") && (name == "label" || name == "server-bin" || name == "server-rev") {
			if !hasValue {
				i++ // the value is the next argument
			}
			continue
		}
		out = append(out, shellQuote(args[i]))
	}
	return strings.Join(out, " ")
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=.,:/@%+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
