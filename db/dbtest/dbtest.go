// Package dbtest opens fresh Switchboard databases for tests: a temporary SQLite file, or a
// new schema in the test PostgreSQL, dropped when the test ends.
//
// PostgreSQL is found at SWITCHBOARD_TEST_DATABASE_URL, by default
// postgres://postgres@127.0.0.1:5432/test. When it is unreachable the PostgreSQL half of a
// test is skipped, except under CI=true, where it fails: CI must exercise PostgreSQL.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"switchboard/db"
)

// DefaultPostgresURL is the test database on the development and CI machines.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// TestTimeout is how long a test database call may wait for PostgreSQL (db.Config.Timeout).
const TestTimeout = 30 * time.Second

// Kinds are the database engines every storage test runs against.
var Kinds = []db.Kind{db.SQLite, db.Postgres}

// Each runs fn as a subtest per database kind, each with a fresh database.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			fn(t, Open(t, kind))
		})
	}
}

// Open returns a fresh, migrated database of the given kind, closed when t ends.
func Open(t testing.TB, kind db.Kind) *db.DB {
	t.Helper()
	cfg := Config(t, kind)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("opening %s: %v", kind, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Config returns the db.Config of a fresh database of the given kind, removed when t ends.
// Opening it several times (a restarted server, a second node) reaches the same database.
func Config(t testing.TB, kind db.Kind) db.Config {
	t.Helper()
	// The test machines are shared and often busy: a PostgreSQL call that takes longer than the
	// production default (5 s) there is slowness, not a frozen database. Tests of a frozen
	// database set their own.
	cfg := db.Config{NodeID: "test", PostgresSchema: Schema(t), Timeout: TestTimeout}
	switch kind {
	case db.SQLite:
		cfg.Path = filepath.Join(t.TempDir(), "switchboard.db")
	case db.Postgres:
		cfg.URL = FreshPostgres(t)
	default:
		t.Fatalf("unknown database kind %q", kind)
	}
	return cfg
}

// FreshPostgres creates an empty schema in the test PostgreSQL and returns a URL whose
// connections use it. The schema is dropped when t ends.
func FreshPostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("SWITCHBOARD_TEST_DATABASE_URL")
	if base == "" {
		base = DefaultPostgresURL
	}
	admin, err := sql.Open("postgres", base)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		Skip(t, "PostgreSQL", fmt.Sprintf("%s unreachable (%v)", base, err))
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Schema returns the canonical PostgreSQL schema, read from schema.sql at the module root.
func Schema(t testing.TB) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ModuleRoot returns the directory of go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
