package main

import (
	"fmt"
	"slices"
	"strings"
)

// Repeated runs. benchmarks.sh runs the noisiest rows several times (REPEAT); the page shows,
// per label, the run with the median of the row's key figure, and a note lists every run's.
// Runs of a label by another server revision than its latest are an earlier version of the
// row and are dropped (a row rerun after a change replaces it).

// keyFigure is the figure a row's repeats are ranked by, and its unit.
func keyFigure(r record) (name, unit string) {
	switch r.str("scenario") {
	case "fanout", "rooms", "cluster":
		return "latency_p99_ms", "ms"
	case "publish":
		if r.num("rate") > 0 {
			return "post_latency_p99_ms", "ms"
		}
		return "posts_per_s", "/s"
	case "stall":
		return "readers_latency_p99_ms", "ms"
	case "resume":
		return "all_caught_up_s", "s"
	case "idle":
		return "server_kib_per_conn", "KiB"
	}
	return "", ""
}

// pickMedians returns one record per label, in the order labels first appear: the median run
// of the label's latest server revision. notes describe the labels that had several runs.
func pickMedians(all []record) (recs []record, notes []string) {
	byLabel := map[string][]record{}
	var order []string
	for _, r := range all {
		l := r.str("label")
		if l == "" {
			recs = append(recs, r)
			continue
		}
		runs, seen := byLabel[l]
		if !seen {
			order = append(order, l)
		}
		if len(runs) > 0 && runs[len(runs)-1].str("server_rev") != r.str("server_rev") {
			runs = nil // a rerun after a change replaces the row
		}
		byLabel[l] = append(runs, r)
	}
	for _, l := range order {
		runs := byLabel[l]
		key, unit := keyFigure(runs[0])
		if len(runs) == 1 || key == "" {
			recs = append(recs, runs[len(runs)-1])
			continue
		}
		sorted := slices.Clone(runs)
		slices.SortStableFunc(sorted, func(a, b record) int {
			switch x, y := a.num(key), b.num(key); {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		})
		recs = append(recs, sorted[(len(sorted)-1)/2])
		figures := make([]string, len(runs))
		for i, r := range runs {
			figures[i] = fixed(r.num(key), 1)
		}
		notes = append(notes, fmt.Sprintf("`%s`: the median of %d runs by `%s` (%s %s, in run order)",
			l, len(runs), key, strings.Join(figures, ", "), unit))
	}
	return recs, notes
}
