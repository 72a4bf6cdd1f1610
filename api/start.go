package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"time"

	"switchboard/api/auth"
	"switchboard/db"
	"switchboard/realtime"
)

// Setup is how a whole server is put together: each package's configuration and the few
// choices that tie them. main.go binds flags and environment variables to it; the end-to-end
// tests fill it in. Start reads it in one place, in one order. Its zero value is a
// single-node server on ./switchboard.db, in demo mode, listening on 127.0.0.1:8080.
type Setup struct {
	Addr string // listen address (default ":8080", in demo mode "127.0.0.1:8080"; ":0" takes any free port)
	// Listener, when set, is served instead of listening on Addr (tests shape its sockets).
	Listener net.Listener
	TLS      TLSFiles

	DB db.Config
	// Store, when set, is used instead of opening DB, and Shutdown leaves it open (tests
	// restart servers on one database).
	Store     *db.DB
	Retention db.Retention

	Hub realtime.Config // its Store, Epoch, Broker and callbacks are set by Start
	API Config          // its Metrics, Cluster and, in demo mode, Auth are set by Start
	// Keys are token verification keys in files, read by Start into API.Auth.
	Keys KeyFiles

	Cluster string // "auto" (the default: a cluster when the database is PostgreSQL) or "off"
	// ClusterListenURL is the database URL the cluster bus listens on (default DB.URL):
	// tests put a proxy in between.
	ClusterListenURL string

	ShutdownWindow time.Duration // streams are closed spread over this window (0: at once)
	DebugAddr      string        // when set, Go's pprof profiles are served there; keep it private
	// Middleware, when set, wraps the API's handler (tests count and hold requests).
	Middleware func(http.Handler) http.Handler
	Logger     *slog.Logger
}

// TLSFiles make the server speak HTTPS (HTTP/2 and HTTP/1.1) with the certificate in them.
type TLSFiles struct {
	CertFile, KeyFile string
	RedirectAddr      string // when set, a plain HTTP listener there redirects to HTTPS
}

// KeyFiles name token verification keys held in files.
type KeyFiles struct {
	PublicKeyFile string // PEM of an RS256 or EdDSA public key
	KeysFile      string // JSON list of further keys, for rotation (ReadKeys)
}

// Running is a started server. Shutdown stops it.
type Running struct {
	Addr    string // where it listens, host:port
	URL     string // http:// or https:// and Addr
	DB      *db.DB
	Hub     *realtime.Hub
	API     *Server
	Cluster *Cluster      // nil unless the node is in a cluster
	Certs   *CertReloader // nil without TLS
	// Errors receives the error of a listener that stopped serving.
	Errors <-chan error

	window    time.Duration
	http      *http.Server
	others    []*http.Server // the redirect and pprof listeners
	cancel    context.CancelFunc
	ran       chan struct{} // closed when API.Run returned
	ownsStore bool
	log       *slog.Logger
}

// Check reports what in s cannot work, before anything is started.
func (s Setup) Check() error {
	if slices.Contains(s.API.WSOriginPatterns, "*") {
		return errors.New("WebSocket origins must not contain *: it would allow cross-site WebSocket hijacking")
	}
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		return errors.New("a TLS certificate and its key go together")
	}
	if s.TLS.RedirectAddr != "" && s.TLS.CertFile == "" {
		return errors.New("redirecting to HTTPS needs a TLS certificate and key")
	}
	if s.Cluster != "" && s.Cluster != "auto" && s.Cluster != "off" {
		return fmt.Errorf("cluster %q: want auto or off", s.Cluster)
	}
	return nil
}

// Start assembles and starts a server: the database, the token keys, the cluster bus, the hub
// (which the bus serves as Broker), the API over both, its background work, and the listener.
// On an error it stops what it started.
func Start(ctx context.Context, s Setup) (r *Running, err error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if s.DB.NodeID == "" { // the host's name, and a suffix that tells its processes apart
		host, _ := os.Hostname()
		var b [3]byte
		rand.Read(b[:])
		s.DB.NodeID = host + "-" + hex.EncodeToString(b[:])
	}
	r = &Running{window: s.ShutdownWindow, ran: make(chan struct{}), log: log}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()

	r.DB = s.Store
	if r.DB == nil {
		s.DB.Logger = log
		if r.DB, err = db.Open(ctx, s.DB); err != nil {
			return nil, err
		}
		r.ownsStore = true
		undo = append(undo, func() { r.DB.Close() })
	}
	if s.API.Auth, err = s.auth(ctx, r.DB); err != nil {
		return nil, err
	}
	if s.API.Auth.Demo {
		log.Warn("DEMO MODE: no SWITCHBOARD_JWT_SECRET or SWITCHBOARD_JWT_PUBLIC_KEY is set, so anyone can get a token " +
			"from POST /api/auth/demo. Set a secret before exposing this server; until then it listens on 127.0.0.1 " +
			"unless --addr says otherwise.")
	}

	s.Hub.Store, s.Hub.Epoch, s.Hub.Logger = r.DB, r.DB.Epoch(), log
	if s.Hub.CursorKey, err = storedSecret(ctx, r.DB, "cursor_key"); err != nil {
		return nil, err
	}
	if s.Hub.PollLinger == 0 && s.API.PollTimeout > 0 {
		s.Hub.PollLinger = 2 * s.API.PollTimeout // a client polls again within its timeout
	}
	if s.API.DBTimeout == 0 {
		s.API.DBTimeout = s.DB.Timeout
	}
	s.API.Metrics = wire(r.DB, &s.Hub)
	if s.Cluster != "off" && r.DB.Kind() == db.Postgres {
		{
			url := s.ClusterListenURL
			if url == "" {
				url = s.DB.URL
			}
			if r.Cluster, err = StartCluster(r.DB, url); err != nil {
				return nil, err
			}
			undo = append(undo, r.Cluster.Close)
			s.Hub.Broker, s.API.Cluster = r.Cluster, r.Cluster
		}
	}
	if r.Hub, err = realtime.New(s.Hub); err != nil {
		return nil, err
	}
	undo = append(undo, r.Hub.Close)
	s.API.Logger = log
	if r.API, err = New(s.API, r.Hub, r.DB); err != nil {
		return nil, err
	}

	ln := s.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", s.listenAddr()); err != nil {
			return nil, err
		}
	}
	if n := r.API.cfg.Limits.MaxConnsPerIP; n > 0 && !r.API.cfg.TrustProxy {
		ln = capListener{Listener: ln, counts: newAddrCounts(n)}
	}
	undo = append(undo, func() { ln.Close() })
	var h http.Handler = r.API.Handler()
	if s.Middleware != nil {
		h = s.Middleware(h)
	}
	r.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ConnContext:       markOverCap,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		// No ReadTimeout or WriteTimeout: they would cut streams. Streams set per-write deadlines.
	}
	r.Addr, r.URL = ln.Addr().String(), "http://"+ln.Addr().String()
	if s.TLS.CertFile != "" {
		if r.Certs, err = NewCertReloader(s.TLS.CertFile, s.TLS.KeyFile, log); err != nil {
			return nil, err
		}
		r.http.TLSConfig, r.URL = r.Certs.TLSConfig(), "https://"+r.Addr
	}

	if s.TLS.RedirectAddr != "" && r.Certs != nil {
		redirect, err := RedirectToHTTPS(r.Addr)
		if err != nil {
			return nil, err
		}
		r.others = append(r.others, &http.Server{Addr: s.TLS.RedirectAddr, Handler: redirect, ReadHeaderTimeout: 10 * time.Second})
	}
	if s.DebugAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		r.others = append(r.others, &http.Server{Addr: s.DebugAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second})
	}

	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	errs := make(chan error, 1+len(r.others))
	r.Errors = errs
	go func() { defer close(r.ran); r.API.Run(runCtx) }()
	go r.DB.RunRetention(runCtx, s.Retention, time.Minute)
	go func() {
		if r.Certs != nil {
			errs <- r.http.ServeTLS(ln, "", "")
		} else {
			errs <- r.http.Serve(ln)
		}
	}()
	for _, srv := range r.others {
		go func() {
			if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	log.Info("switchboard listening", "addr", r.Addr, "tls", r.Certs != nil, "database", r.DB.Kind(),
		"node", s.DB.NodeID, "cluster", r.Cluster != nil, "demo", s.API.Auth.Demo)
	return r, nil
}

// Shutdown stops the server in the reverse order of Start. First it drains: every stream is
// told to resume elsewhere, spread over the shutdown window, while the listener keeps
// answering — /readyz and new streams with 503 and Retry-After, other requests as usual, each
// answer closing its connection so that clients move on. Once the streams are gone the
// listener closes and the requests under way finish; then the background work, the hub, the
// cluster bus and the database stop. It returns when all is stopped, or with ctx's error when
// requests or streams outlived it.
func (r *Running) Shutdown(ctx context.Context) error {
	r.http.SetKeepAlivesEnabled(false)
	err := r.API.Shutdown(ctx, r.window)
	if herr := r.http.Shutdown(ctx); herr != nil {
		r.http.Close() // what ctx left no time for
		if err == nil {
			err = herr
		}
	}
	for _, srv := range r.others {
		srv.Close()
	}
	r.cancel()
	<-r.ran
	r.Hub.Close()
	if r.Cluster != nil {
		r.Cluster.Close()
	}
	if r.ownsStore {
		r.DB.Close()
	}
	return err
}

// listenAddr is where the server listens: Addr, or by default :8080 — 127.0.0.1:8080 in demo
// mode, where anyone who reaches the server can get an administrator's token.
func (s Setup) listenAddr() string {
	switch {
	case s.Addr != "":
		return s.Addr
	case s.API.Auth.Demo:
		return "127.0.0.1:8080"
	}
	return ":8080"
}

// auth returns the token settings: the API's, with the key files read. Without a secret or a
// key the server runs in demo mode with a generated secret kept in the database, so that
// tokens outlive restarts.
func (s Setup) auth(ctx context.Context, store *db.DB) (auth.Config, error) {
	ac := s.API.Auth
	if s.Keys.PublicKeyFile != "" {
		key, err := auth.ReadPublicKey(s.Keys.PublicKeyFile)
		if err != nil {
			return ac, err
		}
		ac.PublicKey = key
	}
	if s.Keys.KeysFile != "" {
		keys, err := auth.ReadKeys(s.Keys.KeysFile)
		if err != nil {
			return ac, err
		}
		ac.Keys = append(ac.Keys, keys...)
	}
	if len(ac.Secret) > 0 || ac.PublicKey != nil || len(ac.Keys) > 0 {
		return ac, nil
	}
	secret, err := DemoSecret(ctx, store)
	ac.Secret, ac.Demo = secret, true
	return ac, err
}

// DemoSecret returns the secret that signs demo tokens, made once and kept in the database.
func DemoSecret(ctx context.Context, store *db.DB) ([]byte, error) {
	return storedSecret(ctx, store, "demo_jwt_secret")
}

// storedSecret returns the random secret kept in the database under name, making it the first
// time: every node of a cluster reads the same one, and it outlives restarts.
func storedSecret(ctx context.Context, store *db.DB, name string) ([]byte, error) {
	s, err := store.Meta(ctx, name, func() string {
		var b [32]byte
		rand.Read(b[:])
		return hex.EncodeToString(b[:])
	})
	return []byte(s), err
}
