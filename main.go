// Command switchboard is a real-time server: live events over Server-Sent Events, WebSocket
// and long-poll from one hub, with every client action also a REST call.
//
//	switchboard [flags]            run the server (see -h)
//	switchboard token [flags]      print a token for curl
//	switchboard health [flags]     exit 0 when a server answers /readyz (for container healthchecks)
//	switchboard cert [flags]       write a self-signed certificate for development
//
// This file reads the configuration — flags, and the environment variables behind them — into
// an api.Setup, starts the server with api.Start, and stops it on a signal.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"switchboard/api"
	"switchboard/api/auth"
	"switchboard/db"
	"switchboard/web"
)

//go:embed schema.sql
var postgresSchema string

func main() {
	commands := map[string]func([]string) error{"token": runToken, "health": runHealth, "cert": runCert}
	run, args := runServer, os.Args[1:]
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if run = commands[args[0]]; run == nil {
			fmt.Fprintf(os.Stderr, "switchboard: unknown command %q (token, health or cert; -h for the server's flags)\n", args[0])
			os.Exit(2)
		}
		args = args[1:]
	}
	if err := run(args); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

// parse reads the server's flags into a Setup, and the few the process itself reads.
func parse(args []string) (s api.Setup, logLevel, logFormat string, shutdownTimeout time.Duration, err error) {
	f := flag.NewFlagSet("switchboard", flag.ContinueOnError)
	s.Flags(f)
	api.Bind(f, &logLevel, "log-level", "SWITCHBOARD_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	api.Bind(f, &logFormat, "log-format", "SWITCHBOARD_LOG_FORMAT", "text", "log format: text or json")
	api.Bind(f, &shutdownTimeout, "shutdown-timeout", "SWITCHBOARD_SHUTDOWN_TIMEOUT", 20*time.Second, "longest a graceful shutdown may take")
	if err = f.Parse(args); err == nil {
		err = s.Check()
	}
	s.DB.PostgresSchema, s.API.Web = postgresSchema, web.FS()
	return s, logLevel, logFormat, shutdownTimeout, err
}

func runServer(args []string) error {
	s, logLevel, logFormat, shutdownTimeout, err := parse(args)
	if err != nil {
		return err
	}
	if s.Logger, err = newLogger(logLevel, logFormat); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	r, err := api.Start(ctx, s)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1) // SIGHUP: reload the TLS certificate
	signal.Notify(hup, syscall.SIGHUP)
	for running := true; running; {
		select {
		case err = <-r.Errors:
			running = false
		case <-ctx.Done():
			running = false
		case <-hup:
			if r.Certs != nil {
				s.Logger.Info("SIGHUP: TLS certificate reloaded unless err says why not", "err", r.Certs.Reload())
			}
		}
	}
	stop()
	s.Logger.Info("shutting down: draining streams over the window, then closing the listener", "window", s.ShutdownWindow, "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := r.Shutdown(sctx); serr != nil {
		s.Logger.Warn("requests or streams still open at the shutdown timeout", "err", serr)
	}
	s.Logger.Info("stopped")
	return err
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

// runToken prints a signed token: switchboard token --sub alice --name Alice --roles admin --ttl 1h.
// Without a secret it signs with the demo secret of the configured database.
func runToken(args []string) error {
	var (
		dbc                db.Config
		secret             []byte
		claims             auth.Claims
		roles, permissions []string
		ttl                time.Duration
	)
	f := flag.NewFlagSet("switchboard token", flag.ContinueOnError)
	api.DatabaseFlags(f, &dbc)
	dbc.PostgresSchema = postgresSchema
	api.Bind(f, &secret, "jwt-secret", "SWITCHBOARD_JWT_SECRET", nil, "HS256 secret; none: the demo secret of the database")
	f.StringVar(&claims.Subject, "sub", "", "user id (required)")
	f.StringVar(&claims.Name, "name", "", "display name")
	f.StringVar(&claims.Avatar, "avatar", "", "avatar URL")
	f.Var((*api.List)(&roles), "roles", "comma-separated roles")
	f.Var((*api.List)(&permissions), "permissions", "comma-separated permissions")
	f.DurationVar(&ttl, "ttl", time.Hour, "lifetime")
	if err := f.Parse(args); err != nil {
		return err
	}
	if claims.Subject == "" {
		return errors.New("token: --sub is required")
	}
	if len(secret) == 0 {
		store, err := db.Open(context.Background(), dbc)
		if err != nil {
			return err
		}
		defer store.Close()
		if secret, err = api.DemoSecret(context.Background(), store); err != nil {
			return err
		}
	}
	claims.Roles, claims.Permissions = roles, permissions
	tok, _, err := auth.IssueToken(secret, claims, ttl)
	if err == nil {
		fmt.Println(tok)
	}
	return err
}

// runHealth checks a running server's readiness, for images without curl.
func runHealth(args []string) error {
	f := flag.NewFlagSet("switchboard health", flag.ContinueOnError)
	url := f.String("url", "http://127.0.0.1:8080/readyz", "readiness URL")
	if err := f.Parse(args); err != nil {
		return err
	}
	res, err := (&http.Client{Timeout: 3 * time.Second}).Get(*url)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", *url, res.Status)
	}
	return nil
}

// runCert writes a self-signed certificate and its key to cert.pem and key.pem in a directory,
// unless both are there: for development, and for the first start of the compose file's proxy.
func runCert(args []string) error {
	f := flag.NewFlagSet("switchboard cert", flag.ContinueOnError)
	dir := f.String("dir", ".", "directory for cert.pem and key.pem")
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	f.Var((*api.List)(&hosts), "hosts", "comma-separated host names and addresses it is for")
	ttl := f.Duration("ttl", 90*24*time.Hour, "how long it is valid")
	if err := f.Parse(args); err != nil {
		return err
	}
	wrote, err := api.WriteSelfSignedCert(*dir, hosts, *ttl)
	if err == nil {
		fmt.Println(map[bool]string{true: "wrote", false: "kept"}[wrote], *dir+"/cert.pem and key.pem")
	}
	return err
}
