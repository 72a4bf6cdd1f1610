package api

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"switchboard/db"
)

// Flags binds every flag of the server (and the environment variable behind each) to the
// field of s it sets: a flag overrides its variable, which overrides the default.
func (s *Setup) Flags(f *flag.FlagSet) {
	Bind(f, &s.Addr, "addr", "SWITCHBOARD_ADDR", "", "listen address (default :8080; in demo mode 127.0.0.1:8080, since anyone who reaches the server can get a token)")
	DatabaseFlags(f, &s.DB)
	Bind(f, &s.DB.NodeID, "node-id", "SWITCHBOARD_NODE_ID", "", "name of this node (default: host name and a random suffix)")
	Bind(f, &s.API.Auth.Secret, "jwt-secret", "SWITCHBOARD_JWT_SECRET", nil, "HS256 secret (at least 32 bytes) that verifies tokens; none: demo mode")
	Bind(f, &s.Keys.PublicKeyFile, "jwt-public-key", "SWITCHBOARD_JWT_PUBLIC_KEY", "", "PEM file of an RS256 or EdDSA public key that verifies tokens")
	Bind(f, &s.Keys.KeysFile, "jwt-keys", "SWITCHBOARD_JWT_KEYS", "", `JSON file of further verification keys for rotation: [{"kid","alg":"HS256|RS256|EdDSA","secret"|"public_key_file"}]`)
	Bind(f, &s.API.Auth.Issuer, "jwt-issuer", "SWITCHBOARD_JWT_ISSUER", "", "when set, tokens must carry this iss")
	Bind(f, &s.API.Auth.Audience, "jwt-audience", "SWITCHBOARD_JWT_AUDIENCE", "", "when set, tokens must carry this aud")
	Bind(f, &s.Hub.Heartbeat, "heartbeat", "SWITCHBOARD_HEARTBEAT", 15*time.Second, "interval of stream heartbeats")
	Bind(f, &s.API.SSE.Retry, "sse-retry", "SWITCHBOARD_SSE_RETRY", 3*time.Second, "reconnection delay advertised to EventSource")
	Bind(f, &s.API.SSE.Prelude, "sse-prelude", "SWITCHBOARD_SSE_PRELUDE", false, "start streams with 2 KiB of padding for proxies that hold the first bytes")
	Bind(f, &s.API.WriteTimeout, "write-timeout", "SWITCHBOARD_WRITE_TIMEOUT", 10*time.Second, "a stream write blocked this long ends the stream")
	Bind(f, &s.API.ReadTimeout, "read-timeout", "SWITCHBOARD_READ_TIMEOUT", 15*time.Second, "longest a client may take to send a request body, streams excepted (negative: no limit)")
	Bind(f, &s.API.PollTimeout, "poll-timeout", "SWITCHBOARD_POLL_TIMEOUT", 25*time.Second, "longest a long-poll request waits for events")
	Bind(f, &s.Hub.QueueSize, "queue-size", "SWITCHBOARD_QUEUE_SIZE", 1024, "outbound queue per connection, in events")
	Bind(f, &s.Hub.QueueBytes, "queue-bytes", "SWITCHBOARD_QUEUE_BYTES", 4<<20, "outbound queue per connection, in bytes")
	Bind(f, &s.Hub.MaxSubscriptions, "max-subscriptions", "SWITCHBOARD_MAX_SUBSCRIPTIONS", 128, "subscriptions (topics) per connection")
	Bind(f, &s.Hub.MaxStreamAge, "max-stream-age", "SWITCHBOARD_MAX_STREAM_AGE", 10*time.Minute, "streams end after this age plus up to 50% jitter, then resume (negative: never)")
	Bind(f, &s.Hub.PresenceGrace, "presence-grace", "SWITCHBOARD_PRESENCE_GRACE", 5*time.Second, "a user leaving a room, or going offline, is announced after this; a reconnect within it announces nothing")
	Bind(f, &s.Hub.TypingExpiry, "typing-expiry", "SWITCHBOARD_TYPING_EXPIRY", 5*time.Second, "a typing_start without a typing_stop ends after this")
	Bind(f, &s.Retention.MaxAge, "retention-age", "SWITCHBOARD_RETENTION_AGE", 24*time.Hour, "events older than this leave the replay log")
	Bind(f, &s.Retention.MaxEvents, "retention-events", "SWITCHBOARD_RETENTION_EVENTS", 10_000, "events kept for replay per topic")
	Bind(f, &s.ShutdownWindow, "shutdown-window", "SWITCHBOARD_SHUTDOWN_WINDOW", 5*time.Second, "on shutdown, connections are closed spread over this window")
	Bind(f, &s.API.WSOriginPatterns, "ws-origins", "SWITCHBOARD_WS_ORIGINS", nil, "comma-separated cross-origin hosts allowed to open WebSockets (never *)")
	Bind(f, &s.API.TrustProxy, "trust-proxy", "SWITCHBOARD_TRUST_PROXY", false, "take client addresses from X-Forwarded-For")
	Bind(f, &s.API.DisableWebSocket, "disable-websocket", "SWITCHBOARD_DISABLE_WEBSOCKET", false, "answer /ws with 404 transport_disabled (clients fall back to SSE)")
	BindValue(f, negated{&s.API.DisableWSCompression}, "ws-compression", "SWITCHBOARD_WS_COMPRESSION", "true", "compress WebSocket events of 256 bytes and more for clients that offer permessage-deflate (each event once)")
	Bind(f, &s.API.MetricsToken, "metrics-token", "SWITCHBOARD_METRICS_TOKEN", "", "bearer token that /metrics and /ws/health ask for (default: none, they are public)")
	Bind(f, &s.API.APIKey, "api-key", "SWITCHBOARD_API_KEY", "", "key other backends send as X-API-Key to POST /api/publish")
	Bind(f, &s.API.CORSOrigins, "cors-origins", "SWITCHBOARD_CORS_ORIGINS", nil, "comma-separated origins of web apps on other hosts allowed to call REST and SSE")
	BindValue(f, limits{&s.API.Limits}, "rate-limits", "SWITCHBOARD_RATE_LIMITS", "", `per-user limits as "messages=10/20,typing=5/10,joins=20/50,presence=2/5,changes=2/20,rooms=0.2/10,reads=20/40" (rate per second/burst; per connection: half), or "off"`)
	Bind(f, &s.API.Limits.MaxConnsPerUser, "max-conns-per-user", "SWITCHBOARD_MAX_CONNS_PER_USER", 20, "live connections one user may hold")
	Bind(f, &s.API.Limits.MaxRoomsPerUser, "max-rooms-per-user", "SWITCHBOARD_MAX_ROOMS_PER_USER", 100, "rooms one user may have created and not archived")
	Bind(f, &s.API.Limits.MaxRequestsPerUser, "max-requests-per-user", "SWITCHBOARD_MAX_REQUESTS_PER_USER", 8, "REST requests one user may have under way at once (each may hold a database connection)")
	Bind(f, &s.API.Limits.MaxConns, "max-conns", "SWITCHBOARD_MAX_CONNS", 50_000, "live connections on this node")
	BindValue(f, zeroIsNone{&s.API.Limits.MaxConnsPerIP}, "max-conns-per-ip", "SWITCHBOARD_MAX_CONNS_PER_IP", "256", "connections, streams and requests under way one client address may hold (with --trust-proxy: per forwarded address); 0: no limit")
	Bind(f, &s.DebugAddr, "debug-addr", "SWITCHBOARD_DEBUG_ADDR", "", "when set (e.g. 127.0.0.1:6060), serve Go's pprof profiles there; keep it private")
	Bind(f, &s.Cluster, "cluster", "SWITCHBOARD_CLUSTER", "auto", "auto: nodes sharing a PostgreSQL database form a cluster over LISTEN/NOTIFY; off: this node stands alone")
	Bind(f, &s.API.Escalation.WebhookURL, "escalation-webhook", "SWITCHBOARD_ESCALATION_WEBHOOK", "", "URL that high and critical notifications are POSTed to (an e-mail or push gateway)")
	Bind(f, &s.TLS.CertFile, "tls-cert", "SWITCHBOARD_TLS_CERT", "", "PEM certificate (chain) file: serve HTTPS, with HTTP/2 and HTTP/1.1; reloaded when it changes or on SIGHUP")
	Bind(f, &s.TLS.KeyFile, "tls-key", "SWITCHBOARD_TLS_KEY", "", "PEM private key file of --tls-cert")
	Bind(f, &s.TLS.RedirectAddr, "http-redirect-addr", "SWITCHBOARD_HTTP_REDIRECT_ADDR", "", "with TLS: also listen here (e.g. :80) and redirect every request to HTTPS")
}

// DatabaseFlags binds the flags that choose the database, which the token command reads too.
func DatabaseFlags(f *flag.FlagSet, c *db.Config) {
	Bind(f, &c.URL, "database-url", "DATABASE_URL", "", "PostgreSQL URL (postgres://…); empty: the embedded SQLite database")
	Bind(f, &c.Path, "db", "SWITCHBOARD_DB", "switchboard.db", "SQLite database file")
	Bind(f, &c.Timeout, "db-timeout", "SWITCHBOARD_DB_TIMEOUT", db.DefaultTimeout,
		"longest a PostgreSQL call, and a REST request's database work in all, waits for the server: a statement is cancelled before, a silent server loses the connection, and the request answers 503")
}

// Bind defines a flag for p with the default def, which the environment variable env
// overrides, and the flag overrides in turn.
func Bind[T any](f *flag.FlagSet, p *T, name, env string, def T, usage string) {
	*p = def
	var v flag.Value
	switch p := any(p).(type) {
	case *string:
		v = (*text)(p)
	case *[]byte:
		v = (*secret)(p)
	case *[]string:
		v = (*List)(p)
	case *int:
		v = (*number)(p)
	case *bool:
		v = (*boolean)(p)
	case *time.Duration:
		v = (*duration)(p)
	default:
		panic(fmt.Sprintf("Bind: no flag for %T", p))
	}
	BindValue(f, v, name, env, "", usage)
}

// BindValue defines a flag of v, set first from env when it is set, else from def when not "".
func BindValue(f *flag.FlagSet, v flag.Value, name, env, def, usage string) {
	if s, ok := os.LookupEnv(env); ok {
		if err := v.Set(s); err != nil {
			fmt.Fprintf(os.Stderr, "ignoring $%s=%q: %v\n", env, s, err)
		}
	} else if def != "" {
		v.Set(def)
	}
	f.Var(v, name, usage+" ($"+env+")")
}

// Flag values over the fields they set.
type (
	text   string
	secret []byte
	// List is a flag value of comma-separated words.
	List     []string
	number   int
	boolean  bool
	duration time.Duration
	negated  struct{ p *bool } // a flag saying "on" for a field saying "disabled"
	limits   struct{ p *LimitsConfig }
)

func (v *text) Set(s string) error     { *v = text(s); return nil }
func (v *text) String() string         { return string(*v) }
func (v *secret) Set(s string) error   { *v = []byte(s); return nil }
func (v *secret) String() string       { return strings.Repeat("*", min(len(*v), 1)) }
func (v *List) Set(s string) error     { *v = splitList(s); return nil }
func (v *List) String() string         { return strings.Join(*v, ",") }
func (v *number) Set(s string) error   { n, err := strconv.Atoi(s); *v = number(n); return err }
func (v *number) String() string       { return strconv.Itoa(int(*v)) }
func (v *boolean) Set(s string) error  { b, err := strconv.ParseBool(s); *v = boolean(b); return err }
func (v *boolean) String() string      { return strconv.FormatBool(bool(*v)) }
func (v *boolean) IsBoolFlag() bool    { return true }
func (v *duration) Set(s string) error { d, err := time.ParseDuration(s); *v = duration(d); return err }
func (v *duration) String() string     { return time.Duration(*v).String() }
func (v negated) Set(s string) error   { b, err := strconv.ParseBool(s); *v.p = !b; return err }
func (v negated) String() string       { return "" }
func (v negated) IsBoolFlag() bool     { return true }
func (v limits) Set(s string) error    { return ParseLimits(s, v.p) }
func (v limits) String() string        { return "" }

// zeroIsNone is a number flag whose 0 means "no limit", which its field says with a negative.
type zeroIsNone struct{ p *int }

func (v zeroIsNone) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	if n == 0 {
		n = -1
	}
	*v.p = n
	return nil
}
func (v zeroIsNone) String() string { return "" }

func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
