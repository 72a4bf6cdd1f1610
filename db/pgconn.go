package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/lib/pq"
)

// DefaultTimeout bounds how long a database call waits for PostgreSQL when Config.Timeout
// is not set.
const DefaultTimeout = 5 * time.Second

// pgConnector opens lib/pq connections over deadlineConns, so that no database call waits
// for the server longer than its context allows, nor than the timeout without an answer. The
// server is told the timeout too: a statement that runs for most of it is cancelled by the
// server (statement_timeout), which answers with an error and keeps the connection usable;
// only a server that answers nothing at all loses the connection. connect_timeout bounds
// opening one.
type pgConnector struct {
	pq *pq.Connector
}

func newPGConnector(dsn string, timeout time.Duration) (*pgConnector, error) {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = timeout
	}
	if cfg.Runtime == nil {
		cfg.Runtime = map[string]string{}
	}
	if _, set := cfg.Runtime["statement_timeout"]; !set {
		cfg.Runtime["statement_timeout"] = strconv.FormatInt(max((timeout-timeout/5).Milliseconds(), 1), 10)
	}
	c, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, err
	}
	c.Dialer(pgDialer{stall: timeout, d: net.Dialer{Timeout: timeout}})
	return &pgConnector{pq: c}, nil
}

// dialSlotKey carries a *dialSlot from Connect to the dialer.
type dialSlotKey struct{}

// dialSlot is where the dialer leaves the socket it opened for Connect.
type dialSlot struct {
	ctx  context.Context // Connect's, which the handshake honours
	conn *deadlineConn
}

func (c *pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	slot := &dialSlot{ctx: ctx}
	cn, err := c.pq.Connect(context.WithValue(ctx, dialSlotKey{}, slot))
	if err != nil {
		return nil, err
	}
	inner, ok := cn.(pqConn)
	if !ok || slot.conn == nil {
		cn.Close()
		return nil, errors.New("db: lib/pq connection of an unexpected kind")
	}
	return &pgConn{pqConn: inner, io: slot.conn}, nil
}

func (c *pgConnector) Driver() driver.Driver { return c.pq.Driver() }

// pgDialer opens deadlineConns. lib/pq also dials through it to cancel a query, without a
// slot: the cancellation's socket is bounded by stall, and not otherwise used.
type pgDialer struct {
	stall time.Duration
	d     net.Dialer
}

func (d pgDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d pgDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d pgDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	nc, err := d.d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	c := &deadlineConn{Conn: nc, stall: d.stall}
	if slot, ok := ctx.Value(dialSlotKey{}).(*dialSlot); ok {
		slot.conn = c
		c.use(slot.ctx)
	}
	return c, nil
}

// pqConn is what a lib/pq connection implements, and so what a pgConn passes on.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.NamedValueChecker
	driver.SessionResetter
	driver.Validator
}

// pgConn is a lib/pq connection that tells its socket which call is under way, and that
// reports itself bad once its socket failed. A transaction's COMMIT and ROLLBACK, which get no
// context, run under the last statement's.
type pgConn struct {
	pqConn
	io *deadlineConn
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.io.use(ctx)
	return c.pqConn.BeginTx(ctx, opts)
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.io.use(ctx)
	st, err := c.pqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	inner, ok := st.(pqStmt)
	if !ok {
		st.Close()
		return nil, errors.New("db: lib/pq statement of an unexpected kind")
	}
	return &pgStmt{pqStmt: inner, io: c.io}, nil
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.io.use(ctx)
	return c.pqConn.ExecContext(ctx, query, args)
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.io.use(ctx)
	return c.pqConn.QueryContext(ctx, query, args)
}

func (c *pgConn) Ping(ctx context.Context) error {
	c.io.use(ctx)
	return c.pqConn.Ping(ctx)
}

func (c *pgConn) ResetSession(ctx context.Context) error {
	if c.io.broken.Load() {
		return driver.ErrBadConn
	}
	c.io.use(ctx)
	return c.pqConn.ResetSession(ctx)
}

func (c *pgConn) IsValid() bool { return !c.io.broken.Load() && c.pqConn.IsValid() }

func (c *pgConn) Close() error {
	c.io.use(nil) // the goodbye is bounded by stall, not by a call that may have ended
	return c.pqConn.Close()
}

// pqStmt is what a lib/pq prepared statement implements.
type pqStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// pgStmt is a lib/pq prepared statement that tells its connection's socket which call is
// under way.
type pgStmt struct {
	pqStmt
	io *deadlineConn
}

func (s *pgStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.io.use(ctx)
	return s.pqStmt.ExecContext(ctx, args)
}

func (s *pgStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.io.use(ctx)
	return s.pqStmt.QueryContext(ctx, args)
}
