package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"time"

	_ "github.com/lib/pq" // registers "postgres" for creating and dropping the bench schema
)

// pgSchema is a fresh PostgreSQL schema for one spawned server: the server's URL carries
// search_path, so its migrator builds every table there; the schema is dropped at the end.
type pgSchema struct {
	admin  *sql.DB
	name   string
	url    string
	closed bool
}

func newPGSchema(ctx context.Context, base string) (*pgSchema, error) {
	u, err := checkLoopback(base)
	if err != nil {
		return nil, fmt.Errorf("-database-url: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return nil, fmt.Errorf("-database-url must be postgres://…")
	}
	q := u.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	admin, err := sql.Open("postgres", u.String())
	if err != nil {
		return nil, err
	}
	var b [6]byte
	rand.Read(b[:])
	s := &pgSchema{admin: admin, name: "bench_" + hex.EncodeToString(b[:])}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(cctx, "CREATE SCHEMA "+s.name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("creating schema %s in %s: %w", s.name, u.Redacted(), err)
	}
	q.Set("search_path", s.name)
	u.RawQuery = q.Encode()
	s.url = u.String()
	return s, nil
}

// drop removes the schema and everything in it.
func (s *pgSchema) drop() {
	if s.closed {
		return
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = s.admin.ExecContext(ctx, "DROP SCHEMA "+s.name+" CASCADE")
	s.admin.Close()
}
