package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"
)

// config is every flag of the load generator.
type config struct {
	scenario   string
	cpuProfile string
	warmup     time.Duration

	// target
	url         string
	secret      string
	pid         int
	spawn       bool
	databaseURL string
	serverBin   string
	serverArgs  string
	logLevel    string
	heartbeat   time.Duration
	queueSize   int
	keepLog     bool

	// load
	n           int
	rooms       int
	users       int
	transport   string
	sseClient   string
	wsClient    string
	wsDeflate   bool
	rate        float64
	duration    time.Duration
	size        int
	payload     string
	concurrency int
	stalled     int
	rcvbuf      int
	missed      int
	spread      time.Duration
	posters     float64
	dial        int
	settle      time.Duration
	drain       time.Duration
	timeout     time.Duration
	nodes       int

	label     string // names the run in its JSON line (BENCHMARKS.md rows)
	serverRev string // what -server-bin was built from
	render    string // -render: JSON lines file to turn into BENCHMARKS.md
	args      []string

	rateSet bool // -rate was given
}

// Bounds keep every run finite and within what one machine can hold.
const (
	maxConns    = 20_000
	maxRate     = 20_000
	maxDuration = 10 * time.Minute
	maxTimeout  = 30 * time.Minute
	maxSize     = 1 << 20
	maxMessages = 2_000_000
)

var errHelp = errors.New("help requested")

// scenarios maps -scenario names to their runners.
var scenarios = map[string]func(ctx context.Context, cfg config, t *target, rep *report) error{
	"idle":    runIdle,
	"fanout":  runFanout,
	"rooms":   runRooms,
	"publish": runPublish,
	"stall":   runStall,
	"resume":  runResume,
	"cluster": runCluster,
}

func parseConfig(args []string) (config, error) {
	var c config
	f := flag.NewFlagSet("bench", flag.ContinueOnError)
	f.StringVar(&c.scenario, "scenario", "fanout", "idle, fanout, rooms, publish, stall, resume or cluster")

	f.StringVar(&c.url, "url", "http://127.0.0.1:8080", "server to drive (loopback only); ignored with -spawn")
	f.StringVar(&c.secret, "secret", "", "HS256 secret of the server (SWITCHBOARD_JWT_SECRET) to mint tokens; empty uses POST /api/auth/demo")
	f.IntVar(&c.pid, "pid", 0, "process id of the server, for RSS and CPU readings (set by -spawn)")
	f.BoolVar(&c.spawn, "spawn", false, "build the server, start it on 127.0.0.1 with a fresh database, stop it at the end")
	f.StringVar(&c.databaseURL, "database-url", "", "with -spawn: PostgreSQL URL (loopback); a fresh schema is created in it and dropped after; empty uses a temporary SQLite file")
	f.StringVar(&c.serverBin, "server-bin", "", "with -spawn: use this server binary instead of building one")
	f.StringVar(&c.serverArgs, "server-args", "", "with -spawn: extra server flags, space-separated")
	f.StringVar(&c.logLevel, "log-level", "warn", "with -spawn: server log level")
	f.DurationVar(&c.heartbeat, "heartbeat", 0, "with -spawn: server --heartbeat (0: the server's default)")
	f.IntVar(&c.queueSize, "queue-size", 0, "with -spawn: server --queue-size (0: the server's default)")
	f.BoolVar(&c.keepLog, "keep-log", false, "with -spawn: keep the server's log (kept anyway when the run fails)")

	f.IntVar(&c.n, "n", 200, "connections (subscribers)")
	f.IntVar(&c.rooms, "rooms", 0, "rooms the connections spread over (rooms: default 10; idle: 0 = no room)")
	f.IntVar(&c.users, "users", 0, "distinct users the connections belong to, round-robin (0: one user per connection)")
	f.StringVar(&c.transport, "transport", "sse", "sse, ws, poll or mix (a third of each)")
	f.StringVar(&c.sseClient, "sse-client", "raw", "SSE client: raw (lean reader, one goroutine per stream) or r3labs (r3labs/sse/v2)")
	f.StringVar(&c.wsClient, "ws-client", "raw", "WebSocket client: raw (lean frame reader, one goroutine per stream) or coder (coder/websocket)")
	f.BoolVar(&c.wsDeflate, "ws-deflate", false, "raw WebSocket client: offer permessage-deflate, as browsers do, and inflate compressed frames")
	f.Float64Var(&c.rate, "rate", 10, "messages per second (fanout, cluster: fixed, 0 = a closed loop of -concurrency posters; stall: fixed; rooms: Poisson total; publish: default 0 = closed loop)")
	f.DurationVar(&c.duration, "duration", 10*time.Second, "how long messages are posted")
	f.DurationVar(&c.warmup, "warmup", 0, "publish: post the same load this long, unmeasured, before the measured -duration")
	f.IntVar(&c.size, "size", 0, "message size in bytes (0: a short message; chat content allows at most 1000)")
	f.StringVar(&c.payload, "payload", "chat", "chat (POST /api/rooms/:room/messages) or publish (POST /api/publish data_update)")
	f.IntVar(&c.concurrency, "concurrency", 16, "publish: concurrent posters; others: most posts in flight at once")
	f.IntVar(&c.stalled, "stalled", 2, "stall: subscribers that stop reading")
	f.IntVar(&c.rcvbuf, "rcvbuf", 4096, "stall: SO_RCVBUF of the stalled sockets, in bytes")
	f.IntVar(&c.missed, "missed", 50, "resume: messages posted while every client is away")
	f.DurationVar(&c.spread, "spread", time.Second, "resume: clients reconnect spread over this long")
	f.Float64Var(&c.posters, "posters", 0.1, "rooms: fraction of the clients that post")
	f.IntVar(&c.dial, "dial", 64, "connections being opened at once")
	f.DurationVar(&c.settle, "settle", 5*time.Second, "idle: wait this long after connecting before reading RSS; others: longest wait for the event flow to go quiet")
	f.DurationVar(&c.drain, "drain", 10*time.Second, "after the last post, longest wait for deliveries")
	f.DurationVar(&c.timeout, "timeout", 2*time.Minute, "hard limit of the whole run")
	f.IntVar(&c.nodes, "nodes", 2, "cluster: server processes spawned on one PostgreSQL schema (2..8)")
	f.StringVar(&c.label, "label", "", "a name for the run, carried in its JSON line (bench/benchmarks.sh names the BENCHMARKS.md rows)")
	f.StringVar(&c.serverRev, "server-rev", "", "with -server-bin: the revision the binary was built from, for the report")
	f.StringVar(&c.cpuProfile, "cpuprofile", "", "write the generator's own CPU profile to this file (the server's: --debug-addr via -server-args)")
	f.StringVar(&c.render, "render", "", "print BENCHMARKS.md from this file of JSON lines (bench/benchmarks.sh writes it) and exit; no run")

	if err := f.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, errHelp
		}
		return c, err
	}
	f.Visit(func(fl *flag.Flag) {
		if fl.Name == "rate" {
			c.rateSet = true
		}
	})
	if f.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", f.Args())
	}
	c.args = args
	if c.render != "" {
		return c, nil
	}
	return c, c.check()
}

// check refuses settings outside the bounds and fills scenario defaults.
func (c *config) check() error {
	if _, ok := scenarios[c.scenario]; !ok {
		return fmt.Errorf("-scenario %q: want idle, fanout, rooms, publish, stall, resume or cluster", c.scenario)
	}
	if !slices.Contains([]string{"sse", "ws", "poll", "mix"}, c.transport) {
		return fmt.Errorf("-transport %q: want sse, ws, poll or mix", c.transport)
	}
	if c.sseClient != "raw" && c.sseClient != "r3labs" {
		return fmt.Errorf("-sse-client %q: want raw or r3labs", c.sseClient)
	}
	if c.wsClient != "raw" && c.wsClient != "coder" {
		return fmt.Errorf("-ws-client %q: want raw or coder", c.wsClient)
	}
	if c.payload != "chat" && c.payload != "publish" {
		return fmt.Errorf("-payload %q: want chat or publish", c.payload)
	}
	switch {
	case c.n < 0 || c.n > maxConns:
		return fmt.Errorf("-n must be 0..%d", maxConns)
	case c.rate < 0 || c.rate > maxRate:
		return fmt.Errorf("-rate must be 0..%d", maxRate)
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("-duration must be in (0, %v]", maxDuration)
	case c.timeout <= 0 || c.timeout > maxTimeout:
		return fmt.Errorf("-timeout must be in (0, %v]", maxTimeout)
	case c.size < 0 || c.size > maxSize:
		return fmt.Errorf("-size must be 0..%d", maxSize)
	case c.concurrency < 1 || c.concurrency > 1024:
		return errors.New("-concurrency must be 1..1024")
	case c.dial < 1 || c.dial > 1024:
		return errors.New("-dial must be 1..1024")
	case c.users < 0 || c.rooms < 0 || c.rooms > maxConns:
		return errors.New("-users and -rooms must not be negative; -rooms at most -n")
	case c.missed < 0 || c.missed > 100_000:
		return errors.New("-missed must be 0..100000")
	case c.posters < 0 || c.posters > 1:
		return errors.New("-posters must be a fraction from 0 to 1")
	case c.rate*c.duration.Seconds() > maxMessages:
		return fmt.Errorf("-rate × -duration would post more than %d messages", maxMessages)
	}
	if c.payload == "chat" && c.size > maxChatChars {
		return fmt.Errorf("-size %d: chat content allows at most %d characters; use -payload publish for bigger messages", c.size, maxChatChars)
	}
	if c.scenario == "cluster" {
		if !c.spawn || c.databaseURL == "" {
			return errors.New("-scenario cluster needs -spawn and -database-url postgres://…: it starts -nodes servers on one fresh schema")
		}
		if c.nodes < 2 || c.nodes > 8 {
			return errors.New("-nodes must be 2..8")
		}
	} else {
		c.nodes = 1
	}
	if c.scenario == "publish" && !c.rateSet {
		c.rate = 0 // as fast as the server answers
	}
	if (c.scenario == "stall" || c.scenario == "rooms") && c.rate == 0 {
		return fmt.Errorf("-scenario %s needs -rate above 0", c.scenario)
	}
	if c.scenario == "rooms" && c.rooms == 0 {
		c.rooms = 10
	}
	if c.scenario == "stall" {
		if c.stalled < 0 || c.stalled > c.n {
			return errors.New("-stalled must be 0..-n")
		}
		if c.rcvbuf < 0 || c.rcvbuf > 1<<20 {
			return errors.New("-rcvbuf must be 0..1048576")
		}
	}
	if c.scenario != "publish" && c.n == 0 {
		return errors.New("-n must be at least 1")
	}
	if c.spawn && c.pid != 0 {
		return errors.New("-pid and -spawn exclude each other")
	}
	if c.databaseURL != "" && !c.spawn {
		return errors.New("-database-url needs -spawn (an existing server keeps its own database)")
	}
	c.serverArgs = strings.TrimSpace(c.serverArgs)
	return nil
}
