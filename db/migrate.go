package db

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
)

// Migration is one versioned section of a schema file.
type Migration struct {
	Version int
	Title   string
	SQL     string
}

var migrateHeader = regexp.MustCompile(`(?m)^-- migrate: (\d+) (.+)$`)

// ParseMigrations splits a schema file into its "-- migrate: <version> <title>" sections.
// Versions must start at 1 and increase by one.
func ParseMigrations(schema string) ([]Migration, error) {
	locs := migrateHeader.FindAllStringSubmatchIndex(schema, -1)
	if len(locs) == 0 {
		return nil, fmt.Errorf("no \"-- migrate: <version> <title>\" sections")
	}
	out := make([]Migration, 0, len(locs))
	for i, loc := range locs {
		version, _ := strconv.Atoi(schema[loc[2]:loc[3]])
		if version != i+1 {
			return nil, fmt.Errorf("section %d has version %d; versions must be 1, 2, 3, …", i+1, version)
		}
		end := len(schema)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out = append(out, Migration{Version: version, Title: strings.TrimSpace(schema[loc[4]:loc[5]]),
			SQL: strings.TrimSpace(schema[loc[1]:end])})
	}
	return out, nil
}

// migrate applies the sections of schema not yet recorded in schema_migrations, each in its
// own transaction. Running it again is a no-op; concurrent runs (several nodes starting) are
// serialized by an advisory lock on PostgreSQL and by SQLite's write lock. A migration may take
// long (it waits for another node's, and may rewrite a large table): only ctx bounds it, not
// Config.Timeout.
func migrate(ctx context.Context, db *bun.DB, kind Kind, schema string) error {
	ctx = longAwaited(ctx)
	migrations, err := ParseMigrations(schema)
	if err != nil {
		return err
	}
	// Concurrent CREATE TABLE IF NOT EXISTS can still collide on PostgreSQL's catalog
	// (duplicate pg_type), so it is serialized like the migrations themselves.
	createTable := `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, title TEXT NOT NULL, applied_at TEXT NOT NULL)`
	if err := db.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
		if err := lockMigrations(ctx, tx, kind); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, createTable)
		return err
	}); err != nil {
		return err
	}
	for _, m := range migrations {
		err := db.RunInTx(ctx, &sql.TxOptions{}, func(ctx context.Context, tx bun.Tx) error {
			if err := lockMigrations(ctx, tx, kind); err != nil {
				return err
			}
			var n int
			if err := tx.NewRaw("SELECT count(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(ctx, &n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("version %d (%s): %w", m.Version, m.Title, err)
			}
			_, err := tx.NewRaw("INSERT INTO schema_migrations (version, title, applied_at) VALUES (?, ?, ?)",
				m.Version, m.Title, now().Format("2006-01-02T15:04:05.000000Z")).Exec(ctx)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// lockMigrations makes tx the only migrating transaction on PostgreSQL until it ends, with no
// statement timeout.
func lockMigrations(ctx context.Context, tx bun.Tx, kind Kind) error {
	if kind != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7461626)")
	return err
}
