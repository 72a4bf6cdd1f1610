// Command switchboard is a real-time server: live events over Server-Sent Events, WebSocket
// and long-poll from one hub, with every client action also a REST call.
//
//	switchboard [flags]            run the server (see -h)
//	switchboard token [flags]      print a token for curl
//	switchboard health [flags]     exit 0 when a server answers /readyz (for container healthchecks)
//
// Configuration comes from flags and environment variables; this file is the only place that
// reads either.
package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // on --debug-addr only: the API does not use DefaultServeMux
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"switchboard/api"
	"switchboard/db"
	"switchboard/realtime"
	"switchboard/web"
)

//go:embed schema.sql
var postgresSchema string

// config is everything the server reads from flags and the environment.
type config struct {
	addr            string
	databaseURL     string
	dbPath          string
	jwtSecret       string
	jwtPublicKey    string
	logLevel        string
	logFormat       string
	nodeID          string
	heartbeat       time.Duration
	sseRetry        time.Duration
	ssePrelude      bool
	writeTimeout    time.Duration
	pollTimeout     time.Duration
	queueSize       int
	queueBytes      int
	maxTopics       int
	maxStreamAge    time.Duration
	presenceGrace   time.Duration
	typingExpiry    time.Duration
	retentionAge    time.Duration
	retentionEvents int
	shutdownWindow  time.Duration
	shutdownTimeout time.Duration
	wsOrigins       string
	trustProxy      bool
	disableWS       bool
	apiKey          string
	webhookURL      string
	jwtKeys         string
	jwtIssuer       string
	jwtAudience     string
	corsOrigins     string
	rateLimits      string
	maxConnsPerUser int
	maxConns        int
	cluster         string
	debugAddr       string
}

// envFlags defines flags whose defaults come from environment variables, so that a flag
// overrides its variable, which overrides the built-in default.
type envFlags struct{ *flag.FlagSet }

func (f envFlags) str(p *string, name, env, def, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	f.StringVar(p, name, def, usage+" ($"+env+")")
}

func (f envFlags) dur(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		} else {
			fmt.Fprintf(os.Stderr, "ignoring $%s=%q: %v\n", env, v, err)
		}
	}
	f.DurationVar(p, name, def, usage+" ($"+env+")")
}

func (f envFlags) int(p *int, name, env string, def int, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		} else {
			fmt.Fprintf(os.Stderr, "ignoring $%s=%q: %v\n", env, v, err)
		}
	}
	f.IntVar(p, name, def, usage+" ($"+env+")")
}

func (f envFlags) bool(p *bool, name, env string, def bool, usage string) {
	if v, ok := os.LookupEnv(env); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		} else {
			fmt.Fprintf(os.Stderr, "ignoring $%s=%q: %v\n", env, v, err)
		}
	}
	f.BoolVar(p, name, def, usage+" ($"+env+")")
}

// databaseFlags are shared by the server and the token command.
func databaseFlags(f envFlags, c *config) {
	f.str(&c.databaseURL, "database-url", "DATABASE_URL", "", "PostgreSQL URL (postgres://…); empty uses the embedded SQLite database")
	f.str(&c.dbPath, "db", "SWITCHBOARD_DB", "switchboard.db", "path of the embedded SQLite database")
	f.str(&c.jwtSecret, "jwt-secret", "SWITCHBOARD_JWT_SECRET", "", "HS256 secret (at least 32 bytes); without one and without a public key the server runs in demo mode")
}

func parseConfig(args []string) (config, error) {
	var c config
	f := envFlags{flag.NewFlagSet("switchboard", flag.ContinueOnError)}
	f.str(&c.addr, "addr", "SWITCHBOARD_ADDR", ":8080", "listen address")
	databaseFlags(f, &c)
	f.str(&c.jwtPublicKey, "jwt-public-key", "SWITCHBOARD_JWT_PUBLIC_KEY", "", "PEM file of an RS256 or EdDSA public key that verifies tokens")
	f.str(&c.logLevel, "log-level", "SWITCHBOARD_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	f.str(&c.logFormat, "log-format", "SWITCHBOARD_LOG_FORMAT", "text", "log format: text or json")
	f.str(&c.nodeID, "node-id", "SWITCHBOARD_NODE_ID", "", "name of this node (default: host name and a random suffix)")
	f.dur(&c.heartbeat, "heartbeat", "SWITCHBOARD_HEARTBEAT", 15*time.Second, "interval of stream heartbeats")
	f.dur(&c.sseRetry, "sse-retry", "SWITCHBOARD_SSE_RETRY", 3*time.Second, "reconnection delay advertised to EventSource")
	f.bool(&c.ssePrelude, "sse-prelude", "SWITCHBOARD_SSE_PRELUDE", false, "start streams with 2 KiB of padding for proxies that hold the first bytes")
	f.dur(&c.writeTimeout, "write-timeout", "SWITCHBOARD_WRITE_TIMEOUT", 10*time.Second, "a stream write blocked this long ends the stream")
	f.dur(&c.pollTimeout, "poll-timeout", "SWITCHBOARD_POLL_TIMEOUT", 25*time.Second, "longest a long-poll request waits for events")
	f.int(&c.queueSize, "queue-size", "SWITCHBOARD_QUEUE_SIZE", 1024, "outbound queue per connection, in events")
	f.int(&c.queueBytes, "queue-bytes", "SWITCHBOARD_QUEUE_BYTES", 4<<20, "outbound queue per connection, in bytes")
	f.int(&c.maxTopics, "max-subscriptions", "SWITCHBOARD_MAX_SUBSCRIPTIONS", 128, "subscriptions per connection")
	f.dur(&c.maxStreamAge, "max-stream-age", "SWITCHBOARD_MAX_STREAM_AGE", 10*time.Minute, "streams end after this age plus up to 50% jitter, then resume (negative: never)")
	f.dur(&c.presenceGrace, "presence-grace", "SWITCHBOARD_PRESENCE_GRACE", 5*time.Second, "a user leaving a room, or going offline, is announced after this; a reconnect within it announces nothing")
	f.dur(&c.typingExpiry, "typing-expiry", "SWITCHBOARD_TYPING_EXPIRY", 5*time.Second, "a typing_start without a typing_stop ends after this")
	f.dur(&c.retentionAge, "retention-age", "SWITCHBOARD_RETENTION_AGE", 24*time.Hour, "events older than this leave the replay log")
	f.int(&c.retentionEvents, "retention-events", "SWITCHBOARD_RETENTION_EVENTS", 10_000, "events kept for replay per topic")
	f.dur(&c.shutdownWindow, "shutdown-window", "SWITCHBOARD_SHUTDOWN_WINDOW", 5*time.Second, "on shutdown, connections are closed spread over this window")
	f.dur(&c.shutdownTimeout, "shutdown-timeout", "SWITCHBOARD_SHUTDOWN_TIMEOUT", 20*time.Second, "longest a graceful shutdown may take")
	f.str(&c.wsOrigins, "ws-origins", "SWITCHBOARD_WS_ORIGINS", "", "comma-separated cross-origin hosts allowed to open WebSockets (never *)")
	f.bool(&c.trustProxy, "trust-proxy", "SWITCHBOARD_TRUST_PROXY", false, "take client addresses from X-Forwarded-For")
	f.bool(&c.disableWS, "disable-websocket", "SWITCHBOARD_DISABLE_WEBSOCKET", false, "refuse WebSocket upgrades (clients fall back to SSE)")
	f.str(&c.apiKey, "api-key", "SWITCHBOARD_API_KEY", "", "key other backends send as X-API-Key to POST /api/publish")
	f.str(&c.jwtKeys, "jwt-keys", "SWITCHBOARD_JWT_KEYS", "", `JSON file of further verification keys for rotation: [{"kid","alg":"HS256|RS256|EdDSA","secret"|"public_key_file"}]`)
	f.str(&c.jwtIssuer, "jwt-issuer", "SWITCHBOARD_JWT_ISSUER", "", "when set, tokens must carry this iss")
	f.str(&c.jwtAudience, "jwt-audience", "SWITCHBOARD_JWT_AUDIENCE", "", "when set, tokens must carry this aud")
	f.str(&c.corsOrigins, "cors-origins", "SWITCHBOARD_CORS_ORIGINS", "", "comma-separated origins of web apps on other hosts allowed to call REST and SSE")
	f.str(&c.rateLimits, "rate-limits", "SWITCHBOARD_RATE_LIMITS", "", `per-user limits as "messages=10/20,typing=5/10,joins=20/50,presence=2/5,changes=2/20" (rate per second/burst; per connection: half), or "off"`)
	f.int(&c.maxConnsPerUser, "max-conns-per-user", "SWITCHBOARD_MAX_CONNS_PER_USER", 20, "live connections one user may hold")
	f.int(&c.maxConns, "max-conns", "SWITCHBOARD_MAX_CONNS", 50_000, "live connections on this node")
	f.str(&c.debugAddr, "debug-addr", "SWITCHBOARD_DEBUG_ADDR", "", "when set (e.g. 127.0.0.1:6060), serve Go's pprof profiles there; keep it private")
	f.str(&c.cluster, "cluster", "SWITCHBOARD_CLUSTER", "auto", "auto: nodes sharing a PostgreSQL database form a cluster over LISTEN/NOTIFY; off: this node stands alone")
	f.str(&c.webhookURL, "escalation-webhook", "SWITCHBOARD_ESCALATION_WEBHOOK", "", "URL that high and critical notifications are POSTed to (an e-mail or push gateway)")
	if err := f.Parse(args); err != nil {
		return c, err
	}
	if slices.Contains(splitList(c.wsOrigins), "*") {
		return c, errors.New("--ws-origins must not contain *: it would allow cross-site WebSocket hijacking")
	}
	if c.nodeID == "" {
		host, _ := os.Hostname()
		var b [3]byte
		rand.Read(b[:])
		c.nodeID = host + "-" + hex.EncodeToString(b[:])
	}
	return c, nil
}

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "token" {
		err = runToken(os.Args[2:])
	} else if len(os.Args) > 1 && os.Args[1] == "health" {
		err = runHealth(os.Args[2:])
	} else {
		err = runServer(os.Args[1:])
	}
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

func openDB(ctx context.Context, c config, log *slog.Logger) (*db.DB, error) {
	return db.Open(ctx, db.Config{URL: c.databaseURL, Path: c.dbPath, PostgresSchema: postgresSchema,
		NodeID: c.nodeID, Logger: log})
}

// authConfig builds the token settings. Without a secret or a public key the server runs in
// demo mode with a generated secret kept in the database, so tokens outlive restarts.
func authConfig(ctx context.Context, c config, store *db.DB, log *slog.Logger) (api.AuthConfig, error) {
	ac := api.AuthConfig{Secret: []byte(c.jwtSecret)}
	if c.jwtPublicKey != "" {
		key, err := readPublicKey(c.jwtPublicKey)
		if err != nil {
			return ac, err
		}
		ac.PublicKey = key
	}
	ac.Issuer, ac.Audience = c.jwtIssuer, c.jwtAudience
	if c.jwtKeys != "" {
		keys, err := readKeys(c.jwtKeys)
		if err != nil {
			return ac, err
		}
		ac.Keys = keys
	}
	if c.jwtSecret != "" || c.jwtPublicKey != "" || c.jwtKeys != "" {
		return ac, nil
	}
	secret, err := demoSecret(ctx, store)
	if err != nil {
		return ac, err
	}
	ac.Secret, ac.Demo = secret, true
	log.Warn("DEMO MODE: no SWITCHBOARD_JWT_SECRET or SWITCHBOARD_JWT_PUBLIC_KEY is set, so anyone can get a token " +
		"from POST /api/auth/demo. Set a secret before exposing this server.")
	return ac, nil
}

func demoSecret(ctx context.Context, store *db.DB) ([]byte, error) {
	s, err := store.Meta(ctx, "demo_jwt_secret", func() string {
		var b [32]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:])
	})
	return []byte(s), err
}

// readKeys reads the --jwt-keys file.
func readKeys(path string) ([]api.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the JWT keys: %w", err)
	}
	var entries []struct {
		Kid           string `json:"kid"`
		Alg           string `json:"alg"`
		Secret        string `json:"secret"`
		PublicKeyFile string `json:"public_key_file"`
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	keys := make([]api.Key, 0, len(entries))
	for _, e := range entries {
		k := api.Key{ID: e.Kid, Alg: e.Alg, Material: []byte(e.Secret)}
		if e.PublicKeyFile != "" {
			if k.Material, err = readPublicKey(e.PublicKeyFile); err != nil {
				return nil, err
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// parseLimits reads --rate-limits: "messages=10/20,typing=5/10,…" sets per-user limits, with
// per-connection limits at half; "off" lifts them (for benchmarks).
func parseLimits(spec string, cfg *api.LimitsConfig) error {
	if spec == "" {
		return nil
	}
	if spec == "off" {
		unlimited := api.ActionLimit{User: api.Limit{Rate: 1e9, Burst: 1e9}, Conn: api.Limit{Rate: 1e9, Burst: 1e9}}
		cfg.Messages, cfg.Typing, cfg.Joins, cfg.Presence, cfg.Changes = unlimited, unlimited, unlimited, unlimited, unlimited
		return nil
	}
	for _, part := range splitList(spec) {
		name, value, _ := strings.Cut(part, "=")
		r, b, _ := strings.Cut(value, "/")
		rate, err1 := strconv.ParseFloat(r, 64)
		burst, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || rate <= 0 || burst < 1 {
			return fmt.Errorf("--rate-limits: %q is not name=rate/burst", part)
		}
		l := api.ActionLimit{User: api.Limit{Rate: rate, Burst: burst}, Conn: api.Limit{Rate: rate / 2, Burst: max(1, burst/2)}}
		switch name {
		case "messages":
			cfg.Messages = l
		case "typing":
			cfg.Typing = l
		case "joins":
			cfg.Joins = l
		case "presence":
			cfg.Presence = l
		case "changes":
			cfg.Changes = l
		default:
			return fmt.Errorf("--rate-limits: unknown action %q (messages, typing, joins, presence, changes)", name)
		}
	}
	return nil
}

func readPublicKey(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the JWT public key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the JWT public key in %s: %w", path, err)
	}
	return key, nil
}

func runServer(args []string) error {
	c, err := parseConfig(args)
	if err != nil {
		return err
	}
	log, err := newLogger(c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	store, err := openDB(ctx, c, log)
	if err != nil {
		return err
	}
	defer store.Close()
	auth, err := authConfig(ctx, c, store, log)
	if err != nil {
		return err
	}
	hcfg := realtime.Config{Store: store, Epoch: store.Epoch(), QueueSize: c.queueSize,
		QueueBytes: c.queueBytes, MaxTopics: c.maxTopics, Heartbeat: c.heartbeat, MaxAge: c.maxStreamAge,
		PollLinger: 2 * c.pollTimeout, PresenceGrace: c.presenceGrace, TypingExpiry: c.typingExpiry, Logger: log}
	metrics := api.Wire(store, &hcfg)
	var cluster *api.Cluster
	if store.Kind() == db.Postgres && c.cluster != "off" {
		if cluster, err = api.StartCluster(store, c.databaseURL); err != nil {
			return err
		}
		defer cluster.Close()
		hcfg.Broker = cluster
	}
	hub, err := realtime.New(hcfg)
	if err != nil {
		return err
	}
	defer hub.Close()
	go store.RunRetention(ctx, db.Retention{MaxAge: c.retentionAge, MaxEvents: c.retentionEvents}, time.Minute)
	limits := api.LimitsConfig{MaxConnsPerUser: c.maxConnsPerUser, MaxConns: c.maxConns}
	if err := parseLimits(c.rateLimits, &limits); err != nil {
		return err
	}
	server, err := api.New(api.Config{
		Auth:             auth,
		SSE:              realtime.SSEOptions{Retry: c.sseRetry, Prelude: c.ssePrelude, WriteTimeout: c.writeTimeout},
		WSOriginPatterns: splitList(c.wsOrigins),
		WSWriteTimeout:   c.writeTimeout,
		DisableWebSocket: c.disableWS,
		PollTimeout:      c.pollTimeout,
		TrustProxy:       c.trustProxy,
		APIKey:           c.apiKey,
		CORSOrigins:      splitList(c.corsOrigins),
		Limits:           limits,
		Metrics:          metrics,
		Cluster:          cluster,
		Escalation:       api.EscalationConfig{WebhookURL: c.webhookURL},
		Web:              web.FS(),
		Logger:           log,
	}, hub, store)
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		// No ReadTimeout or WriteTimeout: they would cut streams. Streams set per-write deadlines.
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	log.Info("switchboard listening", "addr", ln.Addr().String(), "database", store.Kind(), "node", c.nodeID,
		"cluster", cluster != nil, "demo", auth.Demo)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	if c.debugAddr != "" {
		go func() {
			log.Info("pprof listening", "addr", c.debugAddr)
			if err := http.ListenAndServe(c.debugAddr, http.DefaultServeMux); err != nil {
				log.Warn("pprof server", "err", err)
			}
		}()
	}
	go server.Run(ctx)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down: ending streams, finishing requests", "window", c.shutdownWindow, "timeout", c.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.shutdownTimeout)
	defer cancel()
	streamsDone := make(chan error, 1)
	go func() { streamsDone <- server.Shutdown(sctx, c.shutdownWindow) }()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running at the shutdown timeout", "err", err)
	}
	if err := <-streamsDone; err != nil {
		log.Warn("streams still open at the shutdown timeout", "err", err)
	}
	log.Info("stopped")
	return nil
}

// runToken prints a signed token: switchboard token --sub alice --name Alice --roles admin --ttl 1h.
// Without a secret it signs with the demo secret of the configured database.
func runToken(args []string) error {
	var (
		c                  config
		sub, name, avatar  string
		roles, permissions string
		ttl                time.Duration
	)
	f := envFlags{flag.NewFlagSet("switchboard token", flag.ContinueOnError)}
	databaseFlags(f, &c)
	f.StringVar(&sub, "sub", "", "user id (required)")
	f.StringVar(&name, "name", "", "display name")
	f.StringVar(&avatar, "avatar", "", "avatar URL")
	f.StringVar(&roles, "roles", "", "comma-separated roles")
	f.StringVar(&permissions, "permissions", "", "comma-separated permissions")
	f.DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	if err := f.Parse(args); err != nil {
		return err
	}
	if sub == "" {
		return errors.New("token: --sub is required")
	}
	secret := []byte(c.jwtSecret)
	if len(secret) == 0 {
		ctx := context.Background()
		store, err := openDB(ctx, c, slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		defer store.Close()
		if secret, err = demoSecret(ctx, store); err != nil {
			return err
		}
	}
	claims := api.Claims{Name: name, Avatar: avatar, Roles: splitList(roles), Permissions: splitList(permissions)}
	claims.Subject = sub
	tok, _, err := api.IssueToken(secret, claims, ttl)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}

// runHealth checks a running server's readiness, for images without curl.
func runHealth(args []string) error {
	f := flag.NewFlagSet("switchboard health", flag.ContinueOnError)
	url := f.String("url", "http://127.0.0.1:8080/readyz", "readiness URL")
	if err := f.Parse(args); err != nil {
		return err
	}
	client := &http.Client{Timeout: 3 * time.Second}
	res, err := client.Get(*url)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", *url, res.Status)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
