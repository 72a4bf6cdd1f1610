package api

import (
	"crypto/subtle"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"switchboard/db"
	"switchboard/realtime"
)

// Metrics are what /metrics exposes. One value serves one server; tests make several.
type Metrics struct {
	registry     *prometheus.Registry
	latency      prometheus.Histogram
	rateLimited  *prometheus.CounterVec
	dbErrors     prometheus.Counter
	authFailures *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	batchSeconds prometheus.Histogram
	batchSize    prometheus.Histogram
}

// NewMetrics creates the metrics of one server.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_delivery_latency_seconds",
			Help:    "Time from an event's publication to its write to a client.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_rate_limited_total", Help: "Requests and in-band actions refused for their rate.",
		}, []string{"action"}),
		dbErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_database_errors_total", Help: "Requests that failed because the database did.",
		}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_auth_failures_total", Help: "Requests refused for a missing or invalid token or API key.",
		}, []string{"code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_http_request_duration_seconds",
			Help:    "Duration of HTTP requests by route; streams count from start to end.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route", "code"}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_message_commit_seconds",
			Help:    "Duration of the transactions that store posted messages, BEGIN to COMMIT; concurrent posts to a room share one.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_message_commit_size",
			Help:    "Messages stored by one transaction.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
	}
	m.registry.MustRegister(m.latency, m.rateLimited, m.dbErrors, m.authFailures, m.httpDuration,
		m.batchSeconds, m.batchSize,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// wire sets the hub callbacks through which the API keeps the database's record of live state
// (presence, the connections audit) and measures delivery; Start passes the returned metrics
// in Config.Metrics. None of the callbacks blocks the hub.
func wire(store *db.DB, cfg *realtime.Config) *Metrics {
	m := NewMetrics()
	cfg.OnPresence = func(pc realtime.PresenceChange) {
		store.RecordPresence(db.Presence{UserID: pc.User.ID, Status: pc.Status, CurrentPage: pc.CurrentPage, LastSeenAt: pc.At})
	}
	cfg.OnDisconnect = func(c *realtime.Conn) {
		store.RecordDisconnect(c.ID(), time.Now(), c.Reason().String())
	}
	cfg.ObserveLatency = func(d time.Duration) { m.latency.Observe(d.Seconds()) }
	store.ObservePostBatches(func(messages int, took time.Duration) {
		m.batchSize.Observe(float64(messages))
		m.batchSeconds.Observe(took.Seconds())
	})
	m.registry.MustRegister(collectors.NewDBStatsCollector(store.SQL(), "switchboard"))
	return m
}

// hubCollector reads the hub's counts at each scrape.
type hubCollector struct {
	hub                                                     *realtime.Hub
	conns, subs, rooms, published, delivered, slow, resumes *prometheus.Desc
}

func newHubCollector(hub *realtime.Hub) *hubCollector {
	return &hubCollector{hub: hub,
		conns:     prometheus.NewDesc("switchboard_connections", "Live connections by transport.", []string{"transport"}, nil),
		subs:      prometheus.NewDesc("switchboard_subscriptions", "Live subscriptions (connection × topic).", nil, nil),
		rooms:     prometheus.NewDesc("switchboard_active_rooms", "Rooms with at least one live subscriber.", nil, nil),
		published: prometheus.NewDesc("switchboard_events_published_total", "Events published to the hub.", nil, nil),
		delivered: prometheus.NewDesc("switchboard_events_delivered_total", "Events handed to subscribers' queues.", nil, nil),
		slow:      prometheus.NewDesc("switchboard_slow_disconnects_total", "Connections closed because their queue overflowed.", nil, nil),
		resumes:   prometheus.NewDesc("switchboard_resumes_total", "Resumed subscriptions: recovered from the log, or reset.", []string{"result"}, nil),
	}
}

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.subs, c.rooms, c.published, c.delivered, c.slow, c.resumes} {
		ch <- d
	}
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.hub.Stats()
	for tr, n := range st.ByTransport {
		ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(n), string(tr))
	}
	ch <- prometheus.MustNewConstMetric(c.subs, prometheus.GaugeValue, float64(st.Subscriptions))
	ch <- prometheus.MustNewConstMetric(c.rooms, prometheus.GaugeValue, float64(st.Rooms))
	ch <- prometheus.MustNewConstMetric(c.published, prometheus.CounterValue, float64(st.Published))
	ch <- prometheus.MustNewConstMetric(c.delivered, prometheus.CounterValue, float64(st.Delivered))
	ch <- prometheus.MustNewConstMetric(c.slow, prometheus.CounterValue, float64(st.SlowClosed))
	ch <- prometheus.MustNewConstMetric(c.resumes, prometheus.CounterValue, float64(st.Recovered), "recovered")
	ch <- prometheus.MustNewConstMetric(c.resumes, prometheus.CounterValue, float64(st.Resets), "reset")
}

func statusClass(code int) string {
	return [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}[min(max(code/100, 1), 5)-1]
}

// metricsHandler serves the Prometheus text format.
// requireMetricsToken admits requests for the operator's views (/metrics, /ws/health) that
// carry the configured MetricsToken as a bearer token, when one is configured.
func (s *Server) requireMetricsToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		want := s.cfg.MetricsToken
		if want == "" {
			return next(c)
		}
		got := tokenFrom(c.Request())
		if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return unauthorized("unauthorized", "this needs the metrics token: send Authorization: Bearer <token>")
		}
		return next(c)
	}
}

func (s *Server) metricsHandler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
}
