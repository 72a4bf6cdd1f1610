#!/usr/bin/env bash
# benchmarks.sh runs every benchmark row of issue 7 (and a few more) with the load generator,
# collects each run's JSON line, and renders BENCHMARKS.md at the module root from them.
#
#   bash bench/benchmarks.sh [results.jsonl]     # about 15 minutes; default bench/results.jsonl
#   QUICK=1 bash bench/benchmarks.sh /tmp/q.jsonl  # smoke test: every row shrunk, ~4 minutes
#
# Environment:
#   QUICK=1          shrink every run (connections, duration, time limit)
#   ONLY="a b"       run only the rows with these labels, appending to the results (a rerun
#                    replaces a row of the same label when rendering; "hub" reruns the hub's
#                    go test -bench); default: all, fresh file
#   SERVER_BIN=path  spawn this server binary instead of building the working tree
#                    (SERVER_REV names its revision)
#   PG_URL=…         PostgreSQL base URL (default postgres://postgres@127.0.0.1:5432/test)
#   MD=path          where to write the Markdown (default BENCHMARKS.md at the module root)
#   PAUSE=seconds    rest between runs (default 5)
#   REPEAT=n         runs of each noisy row (fan-out at 5,000, publish on PostgreSQL; default 3,
#                    QUICK 1); the page shows each row's median run and lists all of them
#   BASE_REV=rev     the revision the fan-out rows at 10/s and 50/s are compared with, run
#                    in the same run of the script, each base run next to its own (rows
#                    "…-base"); default d8fc0f6, the server before issue 22 trimmed idle
#                    streams; BASE_REV=none skips them
#
# Every run has a hard -timeout (and the generator's own watchdog 45 s later); the script
# also kills a run 90 s after its -timeout. A failed run still has its JSON line recorded
# (with "error"), and the script goes on; it exits 1 at the end if any run failed.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
results=${1:-bench/results.jsonl}
[[ $results == /* ]] || results=$root/$results
log=${results%.jsonl}.log
md=${MD:-$root/BENCHMARKS.md}
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
pause=${PAUSE:-5}
repeat=${REPEAT:-3}
[[ ${QUICK:-0} == 1 ]] && repeat=${REPEAT:-1}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-benchmarks.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The server's revision: HEAD, "-dirty" when anything the server is built from differs from
# it (bench/ and BENCHMARKS.md are not part of the server binary).
if [[ -n ${SERVER_BIN:-} ]]; then
	bin=$SERVER_BIN
	rev=${SERVER_REV:-unknown}
else
	rev=$(git rev-parse --short HEAD)
	if ! git diff --quiet HEAD -- . ':(exclude)bench' ':(exclude)BENCHMARKS.md' ||
		[[ -n $(git ls-files --others --exclude-standard -- . ':(exclude)bench' ':(exclude)BENCHMARKS.md') ]]; then
		rev+=-dirty
	fi
	echo "building the server ($rev)…" >&2
	bin=$tmp/switchboard
	go build -o "$bin" .
fi
go build -o "$tmp/bench" ./bench

# The base revision's server, for the fan-out rows measured against it.
base_rev=${BASE_REV:-d8fc0f6}
base_bin=
if [[ $base_rev != none ]]; then
	echo "building the base server ($base_rev)…" >&2
	mkdir "$tmp/base-src"
	git archive "$base_rev" | tar -x -C "$tmp/base-src"
	(cd "$tmp/base-src" && go build -o "$tmp/switchboard-base" .)
	base_bin=$tmp/switchboard-base
	base_rev=$(git rev-parse --short "$base_rev")
fi

if [[ ${QUICK:-0} == 1 ]]; then
	n_idle=500 n_idle_max=1000 n_fan=300 n_stall=50 n_resume=300 n_rooms=300 n_cluster=200
	d20=3s d10=3s d_warm=2s d_stall=12s # long enough for the server to drop the stalled readers
	t_idle=60 t_long=90 t_mid=90 t_short=60
else
	n_idle=10000 n_idle_max=19000 n_fan=5000 n_stall=100 n_resume=5000 n_rooms=2000 n_cluster=1000
	d20=20s d10=10s d_warm=5s d_stall=20s
	t_idle=300 t_long=360 t_mid=180 t_short=120
fi

if [[ -z ${ONLY:-} ]]; then
	: >"$results"
fi
: >>"$log"
failed=()

# row LABEL TIMEOUT_SECONDS FLAG… runs one scenario and appends its JSON line; with times=N
# before it, N times. With based=1 before it, each run is followed by the same run of the base
# revision's server, labelled LABEL-base: the two alternate, so that the machine's drift
# falls on both alike.
row() {
	local label=$1 secs=$2 n=${times:-1}
	shift 2
	if [[ -n ${ONLY:-} && " $ONLY " != *" $label "* ]]; then
		return 0
	fi
	local i
	for ((i = 0; i < n; i++)); do
		run_once "$label" "$secs" "$@"
		if [[ ${based:-0} == 1 && -n $base_bin ]]; then
			server_bin=$base_bin server_rev=$base_rev run_once "$label-base" "$secs" "$@"
		fi
	done
}

run_once() {
	local label=$1 secs=$2
	shift 2
	local -a cmd=("$tmp/bench" -spawn -server-bin "${server_bin:-$bin}" -server-rev "${server_rev:-$rev}" -label "$label" -timeout "${secs}s" "$@")
	echo "== $(date -u +%H:%M:%S) $label: go run ./bench -spawn $* -timeout ${secs}s" | tee -a "$log" >&2
	local rc=0 start=$SECONDS
	timeout --kill-after=10s "$((secs + 90))s" "${cmd[@]}" >"$tmp/out" 2>"$tmp/err" || rc=$?
	cat "$tmp/out" "$tmp/err" >>"$log"
	local last
	last=$(tail -n 1 "$tmp/out")
	if [[ $last == "{"* ]]; then
		printf '%s\n' "$last" >>"$results"
	else
		echo "   no JSON line from $label" >&2
	fi
	if ((rc != 0)); then
		failed+=("$label")
		echo "   $label FAILED (exit $rc): $(tail -n 3 "$tmp/err" | tr '\n' ' ')" >&2
	fi
	echo "   $label: $((SECONDS - start)) s" >&2
	sleep "$pause"
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (figures are noisy above $(nproc))" >&2

row idle-sse "$t_idle" -scenario idle -n "$n_idle"
row idle-sse-19k "$t_idle" -scenario idle -n "$n_idle_max"
row idle-ws "$t_idle" -scenario idle -n "$n_idle" -transport ws
row idle-ws-deflate "$t_idle" -scenario idle -n "$n_idle" -transport ws -ws-deflate
times=$repeat based=1 row fanout-sse-10 "$t_long" -scenario fanout -n "$n_fan" -rate 10 -duration "$d20"
times=$repeat based=1 row fanout-ws-10 "$t_long" -scenario fanout -n "$n_fan" -rate 10 -duration "$d20" -transport ws
row fanout-mix-10 "$t_long" -scenario fanout -n "$n_fan" -rate 10 -duration "$d20" -transport mix
times=$repeat based=1 row fanout-sse-50 "$t_long" -scenario fanout -n "$n_fan" -rate 50 -duration "$d10"
times=$repeat based=1 row fanout-ws-50 "$t_long" -scenario fanout -n "$n_fan" -rate 50 -duration "$d10" -transport ws
times=$repeat row fanout-ws-50-deflate "$t_long" -scenario fanout -n "$n_fan" -rate 50 -duration "$d10" -transport ws -ws-deflate
row fanout-ws-10-1k "$t_long" -scenario fanout -n "$n_rooms" -rate 10 -duration "$d10" -transport ws -size 900
row fanout-ws-10-1k-deflate "$t_long" -scenario fanout -n "$n_rooms" -rate 10 -duration "$d10" -transport ws -size 900 -ws-deflate
row fanout-sse-100 "$t_long" -scenario fanout -n "$n_fan" -rate 100 -duration "$d10"
row fanout-ws-100 "$t_long" -scenario fanout -n "$n_fan" -rate 100 -duration "$d10" -transport ws
row stall "$t_mid" -scenario stall -n "$n_stall" -stalled 2 -rate 50 -size 16384 -payload publish -duration "$d_stall"
row stall-baseline "$t_mid" -scenario stall -n "$n_stall" -stalled 0 -rate 50 -size 16384 -payload publish -duration "$d_stall"
times=$repeat row publish-pg "$t_short" -database-url "$pg" -scenario publish -concurrency 64 -duration "$d10"
times=$repeat row publish-pg-1000 "$t_short" -database-url "$pg" -scenario publish -concurrency 256 -duration "$d10" -rate 1000
times=$repeat row publish-pg-1000-warm "$t_short" -database-url "$pg" -scenario publish -concurrency 256 -duration "$d10" -rate 1000 -warmup "$d_warm"
row publish-sqlite "$t_short" -scenario publish -concurrency 64 -duration "$d10"
row publish-pg-256 "$t_short" -database-url "$pg" -scenario publish -concurrency 256 -duration "$d10"
row publish-sqlite-256 "$t_short" -scenario publish -concurrency 256 -duration "$d10"
row resume "$t_long" -scenario resume -n "$n_resume" -missed 50 -spread 1s
row rooms "$t_mid" -scenario rooms -n "$n_rooms" -rooms 50 -posters 0.1 -rate 200 -duration "$d20"
row cluster-2 "$t_long" -database-url "$pg" -scenario cluster -nodes 2 -n "$n_cluster" -rate 20 -duration "$d20"
row cluster-2-ceiling "$t_mid" -database-url "$pg" -scenario cluster -nodes 2 -n 100 -rate 0 -concurrency 128 -duration "$d10"

# The hub's own benchmark: one publish to 1, 100 and 10,000 subscribers, in process.
hub=${results%.jsonl}-hub.txt
if [[ -z ${ONLY:-} || " $ONLY " == *" hub "* ]]; then
	echo "== $(date -u +%H:%M:%S) hub: go test -run '^\$' -bench Publish -benchmem -count $repeat ./realtime/" | tee -a "$log" >&2
	echo "revision: $rev" >"$tmp/hub"
	if go test -run '^$' -bench Publish -benchmem -count "$repeat" ./realtime/ >>"$tmp/hub" 2>&1; then
		mv "$tmp/hub" "$hub"
	else
		failed+=(hub)
		cat "$tmp/hub" >>"$log"
		echo "   hub FAILED: $(tail -n 3 "$tmp/hub" | tr '\n' ' ')" >&2
	fi
fi

"$tmp/bench" -render "$results" >"$tmp/md"
if [[ -f $hub ]]; then
	{
		printf '\n## Hub: one publish, in process\n\n'
		printf '`go test -run '"'"'^$'"'"' -bench Publish -benchmem -count %s ./realtime/` (server revision `%s`):\n' \
			"$(grep -c 'subscribers=1-' "$hub")" "$(sed -n 's/^revision: //p' "$hub")"
		printf 'a publish fanned out to n subscribers, each draining its queue as its writer would (no\n'
		printf 'sockets). Allocations per publish must not grow with n: the event is encoded once and shared.\n\n```\n'
		grep -E '^(cpu:|Benchmark)' "$hub"
		printf '```\n'
	} >>"$tmp/md"
fi
# The hand-written reading of the figures (profiles, limits of this machine) follows them.
if [[ -f bench/analysis.md ]]; then
	printf '\n' >>"$tmp/md"
	cat bench/analysis.md >>"$tmp/md"
fi
mv "$tmp/md" "$md"
echo "wrote $md from $results (full output in $log)" >&2
if ((${#failed[@]} > 0)); then
	echo "failed: ${failed[*]}" >&2
	exit 1
fi
