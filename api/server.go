// Package api is Switchboard's HTTP face: Echo routes for the three stream transports, the
// REST actions that mirror every in-band action, auth, health and errors. It wires package
// realtime (live delivery) to package db (persistence) and is the only package besides main
// that imports Echo.
package api

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"switchboard/api/auth"
	"switchboard/api/escalation"
	"switchboard/db"
	"switchboard/realtime"
)

// Config tunes the HTTP layer. Zero values select defaults.
type Config struct {
	Auth auth.Config
	SSE  realtime.SSEOptions
	// WSOriginPatterns are cross-origin hosts allowed to open WebSockets (the server's own
	// host always is).
	WSOriginPatterns []string
	WSReadLimit      int64
	DisableWebSocket bool // answer /ws with 404 transport_disabled: clients fall back to SSE
	// DisableWSCompression refuses permessage-deflate; otherwise WebSockets that offer it get
	// events of 256 bytes and more compressed, once per event for every connection.
	DisableWSCompression bool
	// ReadTimeout is how long a client may take to send a request body (default 15 s;
	// negative: no limit). Streams are exempt.
	ReadTimeout time.Duration
	// DBTimeout bounds the database work of a REST request or an in-band WebSocket action: its
	// calls and its waits for a pooled connection together (default db.DefaultTimeout). Past
	// it, the request answers 503 with Retry-After. Start sets it from Setup.DB.Timeout.
	DBTimeout time.Duration
	// WriteTimeout ends a stream whose write stayed blocked this long: a client that stopped
	// reading (default 10 s; SSE.WriteTimeout, when set, for SSE).
	WriteTimeout time.Duration
	PollTimeout  time.Duration // longest a long-poll waits for events (default 25 s)
	BodyLimit    string        // largest REST request body (default "64KB")
	TrustProxy   bool          // take client addresses from X-Forwarded-For
	Web          fs.FS         // static web app served at /; nil serves nothing
	// APIKey, when set, lets other backends call POST /api/publish with an X-API-Key header.
	APIKey string
	// MetricsToken, when set, is the bearer token /metrics and /ws/health ask for; without it
	// they are public.
	MetricsToken string
	// CORSOrigins are the origins of web apps on other hosts allowed to call REST and SSE
	// with credentials; empty allows only the server's own.
	CORSOrigins []string
	Limits      LimitsConfig
	Metrics     *Metrics // from Wire; created when nil
	// Cluster, when set, connects this node to the others (StartCluster); it must also be the
	// hub's Broker.
	Cluster    *Cluster
	Escalation escalation.Config
	// AnnouncementCheck is how often scheduled announcements are looked for (default 1 s).
	AnnouncementCheck time.Duration
	Logger            *slog.Logger
}

func (c *Config) setDefaults() {
	if c.PollTimeout <= 0 {
		c.PollTimeout = 25 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = 15 * time.Second
	}
	if c.DBTimeout <= 0 {
		c.DBTimeout = db.DefaultTimeout
	}
	if c.SSE.WriteTimeout <= 0 {
		c.SSE.WriteTimeout = c.WriteTimeout
	}
	if c.BodyLimit == "" {
		c.BodyLimit = "64KB"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AnnouncementCheck <= 0 {
		c.AnnouncementCheck = time.Second
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	c.Limits.setDefaults()
}

// Server is the HTTP API over one hub and one database.
type Server struct {
	cfg          Config
	e            *echo.Echo
	hub          *realtime.Hub
	db           *db.DB
	auth         *auth.Authenticator
	escalate     *escalation.Worker
	limits       *limiter
	perAddr      *addrCounts // what each client address holds open; nil: no limit
	metrics      *Metrics
	web          webFiles // the web app's files, read and compressed once
	descriptions webFiles // openapi.json and events.schema.json, read and compressed once
	blocks       blocks   // kicked users kept out for a while
	slots        connSlots
	inflight     inflight // REST requests under way per user
	authWatch
	log *slog.Logger
}

// New builds the API.
func New(cfg Config, hub *realtime.Hub, store *db.DB) (*Server, error) {
	cfg.setDefaults()
	verifier, err := auth.New(cfg.Auth)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, e: echo.New(), hub: hub, db: store, auth: verifier, log: cfg.Logger,
		escalate: escalation.New(cfg.Escalation, store, cfg.Logger), limits: newLimiter(cfg.Limits, func() int { return hub.NodeCount() + 1 }), metrics: cfg.Metrics}
	s.inflight.max = cfg.Limits.MaxRequestsPerUser
	if n := cfg.Limits.MaxConnsPerIP; n > 0 {
		s.perAddr = newAddrCounts(n)
	}
	s.metrics.registry.MustRegister(newHubCollector(hub))
	if cfg.Cluster != nil {
		cfg.Cluster.server.Store(s)
	}
	s.routes()
	return s, nil
}

// Run does the server's background work until ctx ends: it publishes scheduled announcements
// when they start and delivers escalated notifications to the webhook.
func (s *Server) Run(ctx context.Context) {
	go s.escalate.Run(ctx)
	go s.keepSlots(ctx)
	t := time.NewTicker(s.cfg.AnnouncementCheck)
	defer t.Stop()
	for {
		s.publishDueAnnouncements(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Handler returns the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.e }

// Routes lists the routes the server serves, as "METHOD /path/:param", the web app's files
// aside: what openapi.json must describe.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.e.Routes() {
		if strings.HasSuffix(r.Path, "/*") || r.Method == echo.RouteNotFound {
			continue
		}
		out = append(out, r.Method+" "+r.Path)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Shutdown ends every live connection, spread over window, each told to resume; it returns
// when they are gone or ctx ends.
func (s *Server) Shutdown(ctx context.Context, window time.Duration) error {
	return s.hub.Shutdown(ctx, window)
}

func (s *Server) routes() {
	e := s.e
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = echo.ExtractIPDirect()
	if s.cfg.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}
	e.Use(dropOddRequestIDs, middleware.RequestID(), noSniff)
	e.Use(s.observeRequests)
	e.Use(s.recoverPanics)
	e.Use(s.boundBodies)
	e.Use(s.capPerAddress)
	if len(s.cfg.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:     s.cfg.CORSOrigins,
			AllowMethods:     []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowHeaders:     []string{"Authorization", "Content-Type", "Last-Event-ID", "X-API-Key", "X-Request-ID"},
			ExposeHeaders:    []string{"Retry-After", "X-Request-ID"},
			AllowCredentials: true,
			MaxAge:           600,
		}))
	}

	e.GET("/metrics", s.metricsHandler(), s.requireMetricsToken)
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/ws/health", s.handleWSHealth, s.requireMetricsToken)
	e.GET("/openapi.json", s.handleDescription)
	e.GET("/events.schema.json", s.handleDescription)

	// Streams: no body limit, no compression, no timeout middleware (they would buffer or kill them).
	e.GET("/events", s.handleSSE, s.requireStreamAuth)
	if s.cfg.DisableWebSocket {
		e.GET("/ws", func(echo.Context) error {
			return notFound("transport_disabled", "WebSocket is disabled on this server; use /events (SSE) or /poll (long-poll)")
		})
	} else {
		e.GET("/ws", s.handleWS, s.requireStreamAuth)
	}
	e.GET("/poll", s.handlePoll, s.requireAuth)

	api := e.Group("/api", middleware.BodyLimit(s.cfg.BodyLimit), s.boundDatabaseWork)
	api.POST("/auth/demo", s.handleDemoLogin)
	api.POST("/auth/logout", s.handleLogout)
	authed := api.Group("", s.requireAuth, s.boundPerUser, s.limitReads)
	changes := s.limitedAs(actChange) // stored, and most of them announced to others
	authed.POST("/rooms", s.handleCreateRoom, changes)
	authed.GET("/rooms", s.handleListRooms)
	authed.GET("/rooms/:room", s.handleGetRoom)
	authed.PATCH("/rooms/:room", s.handleUpdateRoom, changes)
	authed.DELETE("/rooms/:room", s.handleArchiveRoom, changes)
	authed.GET("/rooms/:room/members", s.handleListMembers)
	authed.POST("/rooms/:room/members", s.handleAddMember, changes)
	authed.DELETE("/rooms/:room/members/:user", s.handleRemoveMember, changes)
	authed.GET("/rooms/:room/presence", s.handleRoomPresence)
	authed.GET("/me", s.handleMe)
	authed.GET("/notifications", s.handleListNotifications)
	authed.GET("/notifications/unread-count", s.handleUnreadCount)
	authed.PATCH("/notifications/mark-all-read", s.handleMarkAllNotificationsRead, changes)
	authed.PATCH("/notifications/:id/read", s.handleMarkNotificationRead, changes)
	authed.GET("/announcements/active", s.handleActiveAnnouncements)
	api.POST("/publish", s.handlePublish, s.requirePublisher)

	admin := authed.Group("/admin")
	admin.GET("/connections", s.handleAdminConnections, requirePermission(PermAdminConnections))
	admin.DELETE("/users/:user/connections", s.handleKick, requirePermission(PermAdminConnections))
	admin.GET("/stats", s.handleAdminStats, requirePermission(PermAdminConnections))
	admin.GET("/audit", s.handleAuditLog, requirePermission(PermAdminConnections))
	admin.GET("/escalations", s.handleListEscalations, requirePermission(PermAdminConnections))
	admin.POST("/escalations/:id/retry", s.handleRetryEscalation, requirePermission(PermSendNotifications), changes)
	admin.GET("/rooms/:room", s.handleInspectRoom, requirePermission(PermAdminConnections))
	admin.GET("/rooms/:room/messages", s.handleInspectHistory, requirePermission(PermAdminConnections))
	admin.GET("/rooms/:room/members", s.handleInspectMembers, requirePermission(PermAdminConnections))
	admin.GET("/rooms/:room/presence", s.handleInspectPresence, requirePermission(PermAdminConnections))
	admin.POST("/publish", s.handlePublish, requirePermission(PermPublish))
	admin.POST("/notifications", s.handleAdminNotify, requirePermission(PermSendNotifications))
	admin.POST("/announcements", s.handleCreateAnnouncement, requirePermission(PermSendAnnouncements))
	authed.PUT("/presence", s.handleSetPresence)
	authed.POST("/rooms/:room/read", s.handleMarkRead, changes)
	authed.PATCH("/rooms/:room/messages/:id", s.handleEditMessage)
	authed.DELETE("/rooms/:room/messages/:id", s.handleDeleteMessage, changes)
	authed.DELETE("/connections/:id", s.handleCloseConnection)
	authed.POST("/connections/:id/token", s.handleRefreshToken)
	authed.POST("/rooms/:room/join", s.handleJoin)
	authed.POST("/rooms/:room/leave", s.handleLeave)
	authed.POST("/rooms/:room/messages", s.handlePostMessage)
	authed.GET("/rooms/:room/messages", s.handleHistory)
	authed.POST("/rooms/:room/typing", s.handleTyping)

	if s.cfg.Web != nil {
		e.GET("/*", s.handleWeb)
		e.HEAD("/*", s.handleWeb)
	}
	e.RouteNotFound("/*", func(c echo.Context) error {
		return notFound("not_found", "nothing at %s %s", c.Request().Method, c.Request().URL.Path)
	})
}

// recoverPanics turns a panic into a logged 500 with the JSON error body, never a stack trace
// on the wire.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic in handler", "path", c.Path(), "request_id", requestID(c), "panic", r)
				err = internal(nil)
			}
		}()
		return next(c)
	}
}

// observeRequests logs each request once it ends, with its request id, and measures it.
func (s *Server) observeRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err) // so that the status below is the one sent
		}
		status, route := c.Response().Status, c.Path()
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.httpDuration.WithLabelValues(methodLabel(c.Request().Method), route, statusClass(status)).Observe(elapsed.Seconds())
		level := slog.LevelDebug
		if status >= 500 && status != http.StatusServiceUnavailable { // 503 is a refusal the server chose
			level = slog.LevelWarn
		}
		s.log.Log(c.Request().Context(), level, "request", "method", c.Request().Method, "path", route,
			"status", status, "duration", elapsed, "request_id", requestID(c))
		return nil
	}
}

// methodLabel is a request's method as a metrics label: the standard ones, and "other" for
// whatever else a client sends, which would otherwise add a series per invented method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// maxRequestIDLen bounds a request id a client or proxy sends.
const maxRequestIDLen = 128

// noSniff tells browsers to take every response for the Content-Type it declares: a JSON
// error echoing client input is never run as a script or page.
func noSniff(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		return next(c)
	}
}

// dropOddRequestIDs removes an X-Request-ID that is long or not printable ASCII, so that the
// id echoed in the response, logs and error bodies is one of ours instead.
func dropOddRequestIDs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header
		if id := h.Get(echo.HeaderXRequestID); id != "" && !printableID(id) {
			h.Del(echo.HeaderXRequestID)
		}
		return next(c)
	}
}

func printableID(id string) bool {
	if len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '!' || id[i] > '~' {
			return false
		}
	}
	return true
}
