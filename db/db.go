// Package db is Switchboard's persistence: bun models and queries over PostgreSQL (lib/pq) or
// the embedded SQLite default (bun's sqliteshim, pure Go). It is the only package that speaks
// SQL; it maps driver errors to ErrNotFound, ErrConflict and ErrUnavailable.
//
// A *DB is safe for concurrent use.
package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
)

//go:embed schema_sqlite.sql
var sqliteSchema string

// Config says which database to open.
type Config struct {
	// URL selects PostgreSQL when it starts with postgres:// or postgresql://. Empty selects
	// the embedded SQLite database at Path.
	URL string
	// Path is the SQLite file (default "switchboard.db").
	Path string
	// PostgresSchema is the canonical schema (schema.sql), applied by the migrator.
	PostgresSchema string
	// NodeID names this server process in the connections audit.
	NodeID string
	// Timeout bounds how long a PostgreSQL call waits for the server (default DefaultTimeout):
	// a statement running for most of it is cancelled by the server, and a server that answers
	// nothing for it (stopped, or unreachable without a reset) loses the connection, so that
	// the call fails with ErrUnavailable instead of waiting for it. A call's context may only
	// shorten it; migrations alone wait as long as theirs allows.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Kind names a database engine.
type Kind string

// Database kinds.
const (
	Postgres Kind = "postgres"
	SQLite   Kind = "sqlite"
)

// DB is an open, migrated database.
type DB struct {
	bun     *bun.DB
	kind    Kind
	epoch   uint64
	nodeID  string
	log     *slog.Logger
	users   userCache
	audit   *auditWriter
	batch   batchers                    // group commit of messages, per topic
	rooms   ttlCache[string, Room]      // by key
	members ttlCache[memberKey, Member] // by room id and user id
	// notifyChannel, once a Bus is started, is where committed events are announced.
	notifyChannel atomic.Pointer[string]
	// observeBatch, when set, is told the size and duration of every message transaction.
	observeBatch atomic.Pointer[func(messages int, took time.Duration)]

	closeOnce sync.Once
}

// Open connects to the database named by cfg and applies pending migrations.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var (
		bdb    *bun.DB
		kind   Kind
		schema string
	)
	switch {
	case strings.HasPrefix(cfg.URL, "postgres://") || strings.HasPrefix(cfg.URL, "postgresql://"):
		if cfg.PostgresSchema == "" {
			return nil, errors.New("db: PostgreSQL needs Config.PostgresSchema (schema.sql)")
		}
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		connector, err := newPGConnector(cfg.URL, timeout)
		if err != nil {
			return nil, fmt.Errorf("db: opening PostgreSQL: %w", err)
		}
		sqldb := sql.OpenDB(connector)
		sqldb.SetMaxOpenConns(32)
		sqldb.SetMaxIdleConns(32)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		bdb, kind, schema = bun.NewDB(sqldb, pgdialect.New()), Postgres, cfg.PostgresSchema
	case cfg.URL == "":
		path := cfg.Path
		if path == "" {
			path = "switchboard.db"
		}
		sqldb, err := sql.Open(sqliteshim.ShimName, sqliteDSN(path))
		if err != nil {
			return nil, fmt.Errorf("db: opening SQLite %s: %w", path, err)
		}
		// SQLite has one writer and serves reads from a few connections; a crowd of connecting
		// clients queues on these rather than opening a connection each.
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		bdb, kind, schema = bun.NewDB(sqldb, sqlitedialect.New()), SQLite, sqliteSchema
	default:
		return nil, fmt.Errorf("db: DATABASE_URL must start with postgres:// (or be empty for the embedded SQLite database)")
	}
	d := &DB{bun: bdb, kind: kind, nodeID: cfg.NodeID, log: cfg.Logger}
	if err := d.open(ctx, schema); err != nil {
		bdb.Close()
		return nil, err
	}
	d.audit = newAuditWriter(d)
	return d, nil
}

func (d *DB) open(ctx context.Context, schema string) error {
	// Nodes opening a fresh SQLite file at once race to switch it to WAL, which SQLite answers
	// "locked" without waiting: try again for as long as busy_timeout would have waited.
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := d.bun.PingContext(ctx)
		if err == nil {
			break
		}
		if !sqliteBusy(err) || time.Now().After(deadline) {
			return fmt.Errorf("db: connecting to %s: %w", d.kind, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("db: connecting to %s: %w", d.kind, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := migrate(ctx, d.bun, d.kind, schema); err != nil {
		return fmt.Errorf("db: migrating %s: %w", d.kind, err)
	}
	epoch, err := d.Meta(ctx, "epoch", func() string {
		var b [8]byte
		rand.Read(b[:])
		return strconv.FormatUint(binary.BigEndian.Uint64(b[:])>>1, 10)
	})
	if err != nil {
		return err
	}
	if d.epoch, err = strconv.ParseUint(epoch, 10, 64); err != nil {
		return fmt.Errorf("db: stored epoch %q is not a number", epoch)
	}
	return nil
}

// sqliteDSN returns the modernc.org/sqlite DSN for path: WAL so readers do not wait for the
// writer, IMMEDIATE transactions so concurrent writers queue on busy_timeout instead of
// failing, and foreign keys on.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Close flushes the connections audit and closes the database.
func (d *DB) Close() error {
	var err error
	d.closeOnce.Do(func() {
		d.audit.close()
		err = d.bun.Close()
	})
	return err
}

// Kind returns the database engine.
func (d *DB) Kind() Kind { return d.kind }

// SQL returns the connection pool, for its statistics.
func (d *DB) SQL() *sql.DB { return d.bun.DB }

// ObservePostBatches makes every message transaction report how many messages it carried and
// how long it took, from BEGIN to COMMIT (group commit: see postbatch.go).
func (d *DB) ObservePostBatches(fn func(messages int, took time.Duration)) {
	d.observeBatch.Store(&fn)
}

// Epoch identifies this event log's lineage; cursors from another epoch are reset.
func (d *DB) Epoch() uint64 { return d.epoch }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.bun.PingContext(ctx); err != nil {
		return mapErr(err)
	}
	var one int
	return mapErr(d.bun.NewRaw("SELECT 1").Scan(ctx, &one))
}

// Meta returns the value stored under key, storing generate() first when there is none. The
// first writer wins, so concurrent callers (several nodes) agree.
func (d *DB) Meta(ctx context.Context, key string, generate func() string) (string, error) {
	var value string
	err := d.bun.NewRaw("SELECT value FROM switchboard_meta WHERE key = ?", key).Scan(ctx, &value)
	if err == nil {
		return value, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("db: reading %s: %w", key, mapErr(err))
	}
	if _, err := d.bun.NewRaw("INSERT INTO switchboard_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
		key, generate()).Exec(ctx); err != nil {
		return "", fmt.Errorf("db: storing %s: %w", key, mapErr(err))
	}
	if err := d.bun.NewRaw("SELECT value FROM switchboard_meta WHERE key = ?", key).Scan(ctx, &value); err != nil {
		return "", fmt.Errorf("db: reading %s: %w", key, mapErr(err))
	}
	return value, nil
}

// newID returns a time-ordered UUID (version 7).
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// now returns the current time as stored: UTC, microsecond precision (PostgreSQL's).
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// SQLiteSchema returns the embedded SQLite mirror of schema.sql.
func SQLiteSchema() string { return sqliteSchema }
