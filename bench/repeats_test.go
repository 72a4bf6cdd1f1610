package main

import (
	"strings"
	"testing"
)

func TestPickMediansKeepsTheMedianRunOfTheLatestRevision(t *testing.T) {
	run := func(label, rev string, p99 float64) record {
		return record{"scenario": "fanout", "label": label, "server_rev": rev, "latency_p99_ms": p99}
	}
	all := []record{
		run("a", "old", 1), // an earlier version of the row: dropped
		run("b", "new", 7),
		run("a", "new", 30), run("a", "new", 10), run("a", "new", 20),
	}
	recs, notes := pickMedians(all)
	if len(recs) != 2 || recs[0].str("label") != "a" || recs[1].str("label") != "b" {
		t.Fatalf("want rows a, b in first-seen order, got %v", recs)
	}
	if got := recs[0].num("latency_p99_ms"); got != 20 {
		t.Errorf("row a shows the run with p99 %v, want the median, 20", got)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "3 runs") || !strings.Contains(notes[0], "30.0, 10.0, 20.0") {
		t.Errorf("notes = %q", notes)
	}
}
