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
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"switchboard/db"
	"switchboard/realtime"
)

// Config tunes the HTTP layer. Zero values select defaults.
type Config struct {
	Auth AuthConfig
	SSE  realtime.SSEOptions
	// WSOriginPatterns are cross-origin hosts allowed to open WebSockets (the server's own
	// host always is).
	WSOriginPatterns []string
	WSReadLimit      int64
	WSWriteTimeout   time.Duration // a WebSocket write blocked this long ends the stream (default 10 s)
	DisableWebSocket bool          // answer /ws with 404, as behind a proxy that refuses upgrades
	PollTimeout      time.Duration // longest a long-poll waits for events (default 25 s)
	BodyLimit        string        // largest REST request body (default "64KB")
	TrustProxy       bool          // take client addresses from X-Forwarded-For
	Web              fs.FS         // static web app served at /; nil serves nothing
	// APIKey, when set, lets other backends call POST /api/publish with an X-API-Key header.
	APIKey string
	// CORSOrigins are the origins of web apps on other hosts allowed to call REST and SSE
	// with credentials; empty allows only the server's own.
	CORSOrigins []string
	Limits      LimitsConfig
	Metrics     *Metrics // from Wire; created when nil
	// Cluster, when set, connects this node to the others (StartCluster); it must also be the
	// hub's Broker.
	Cluster    *Cluster
	Escalation EscalationConfig
	// AnnouncementCheck is how often scheduled announcements are looked for (default 1 s).
	AnnouncementCheck time.Duration
	Logger            *slog.Logger
}

func (c *Config) setDefaults() {
	if c.PollTimeout <= 0 {
		c.PollTimeout = 25 * time.Second
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
	cfg      Config
	e        *echo.Echo
	hub      *realtime.Hub
	db       *db.DB
	auth     *Authenticator
	escalate *escalator
	limits   *limiter
	metrics  *Metrics
	authWatch
	log *slog.Logger
}

// New builds the API.
func New(cfg Config, hub *realtime.Hub, store *db.DB) (*Server, error) {
	cfg.setDefaults()
	auth, err := NewAuthenticator(cfg.Auth)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, e: echo.New(), hub: hub, db: store, auth: auth, log: cfg.Logger,
		escalate: newEscalator(cfg.Escalation, store, cfg.Logger), limits: newLimiter(cfg.Limits), metrics: cfg.Metrics}
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
	go s.escalate.run(ctx)
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

// Auth returns the server's token authenticator.
func (s *Server) Auth() *Authenticator { return s.auth }

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
	e.Use(dropOddRequestIDs, middleware.RequestID())
	e.Use(s.observeRequests)
	e.Use(s.recoverPanics)
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

	e.GET("/metrics", s.metricsHandler())
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	e.GET("/ws/health", s.handleWSHealth)

	// Streams: no body limit, no compression, no timeout middleware (they would buffer or kill them).
	e.GET("/events", s.handleSSE, s.requireAuth)
	if !s.cfg.DisableWebSocket {
		e.GET("/ws", s.handleWS, s.requireAuth)
	}
	e.GET("/poll", s.handlePoll, s.requireAuth)

	api := e.Group("/api", middleware.BodyLimit(s.cfg.BodyLimit))
	api.POST("/auth/demo", s.handleDemoLogin)
	api.POST("/auth/logout", s.handleLogout)
	authed := api.Group("", s.requireAuth)
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
	admin.POST("/notifications", s.handleAdminNotify, requirePermission(PermSendNotifications))
	admin.POST("/announcements", s.handleCreateAnnouncement, requirePermission(PermSendAnnouncements))
	authed.PUT("/presence", s.handleSetPresence)
	authed.POST("/rooms/:room/read", s.handleMarkRead, changes)
	authed.PATCH("/rooms/:room/messages/:id", s.handleEditMessage)
	authed.DELETE("/rooms/:room/messages/:id", s.handleDeleteMessage, changes)
	authed.DELETE("/connections/:id", s.handleCloseConnection)
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
		if status >= 500 {
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
