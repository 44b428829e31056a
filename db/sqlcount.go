package db

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"net"
	"sync/atomic"
)

// Counter counts the SQL statements sent on behalf of one context, typically
// one GraphQL request. It proves that a request's statement count depends on
// the depth of its query, not on the number of rows, and feeds metrics.
// Counters nest: a statement counts in every counter of its context.
type Counter struct {
	n      atomic.Int64
	parent *Counter
}

// Count returns the number of statements counted so far.
func (c *Counter) Count() int64 { return c.n.Load() }

type counterKey struct{}

// WithCounter returns a context whose statements are counted in a new
// Counter, and that Counter.
func WithCounter(ctx context.Context) (context.Context, *Counter) {
	parent, _ := ctx.Value(counterKey{}).(*Counter)
	c := &Counter{parent: parent}
	return context.WithValue(ctx, counterKey{}, c), c
}

func count(ctx context.Context) {
	c, _ := ctx.Value(counterKey{}).(*Counter)
	for ; c != nil; c = c.parent {
		c.n.Add(1)
	}
}

// countingConnector wraps lib/pq's connector so that every statement
// executed through database/sql is counted in its context's Counter. Counting
// at the driver sees every statement, whichever helper sent it.
type countingConnector struct {
	driver.Connector
	// prepare keeps statements with parameters prepared per connection.
	prepare bool
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var sock net.Conn // set by socketDialer
	conn, err := c.Connector.Connect(context.WithValue(ctx, socketKey{}, &sock))
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(pqConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("db: driver connection %T lacks the context interfaces", conn)
	}
	return &countingConn{pqConn: pc, stmts: make(map[string]driver.Stmt), sock: sock, prepare: c.prepare}, nil
}

// pqConn is the set of optional driver interfaces lib/pq's connection
// implements; countingConn must keep offering all of them, or database/sql
// would fall back to slower or context-less paths.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// countingConn also keeps the statements it runs with parameters prepared,
// per connection: PostgreSQL then plans each query once per connection
// instead of once per execution. database/sql never uses a connection from
// two goroutines at once, so the cache needs no lock.
type countingConn struct {
	pqConn
	stmts map[string]driver.Stmt
	// sock is the connection's socket, which its watchdog cuts (watch);
	// broken is set when it has.
	sock   net.Conn
	broken atomic.Bool
	// prepare is false behind a transaction pooler (Options).
	prepare bool
}

// maxPrepared bounds the statements a connection keeps: the service's
// queries are a fixed set, but filter combinations multiply them.
const maxPrepared = 256

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	count(ctx)
	ctx, endSpan := statementSpan(ctx, query)
	disarm := c.watch(ctx)
	rows, err := c.query(ctx, query, args)
	return c.rows(ctx, func() { disarm(); endSpan(err) }, rows, err)
}

func (c *countingConn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 || !c.prepare {
		return c.pqConn.QueryContext(ctx, query, args)
	}
	stmt, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}

// rows hands back a statement's rows, read in full on a request's shared
// transaction (see buffered), and keeps the statement's watchdog armed
// until they are closed.
func (c *countingConn) rows(ctx context.Context, done func(), rows driver.Rows, err error) (driver.Rows, error) {
	if err != nil || sharedFrom(ctx) != nil {
		defer done()
		return buffered(ctx)(rows, err)
	}
	return &watchedRows{Rows: rows, done: done}, nil
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (res driver.Result, err error) {
	count(ctx)
	ctx, endSpan := statementSpan(ctx, query)
	defer func() { endSpan(err) }()
	defer c.watch(ctx)()
	if len(args) == 0 || !c.prepare {
		return c.pqConn.ExecContext(ctx, query, args)
	}
	stmt, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// prepared returns the connection's prepared statement for query,
// preparing it the first time.
func (c *countingConn) prepared(ctx context.Context, query string) (driver.Stmt, error) {
	if stmt, ok := c.stmts[query]; ok {
		return stmt, nil
	}
	if len(c.stmts) >= maxPrepared {
		c.closeStatements()
	}
	stmt, err := c.pqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = stmt
	return stmt, nil
}

func (c *countingConn) closeStatements() {
	for q, stmt := range c.stmts {
		stmt.Close()
		delete(c.stmts, q)
	}
}

// Close closes the prepared statements with the connection.
func (c *countingConn) Close() error {
	c.closeStatements()
	return c.pqConn.Close()
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	stmt, err := c.pqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	// COPY statements have a type of their own; they are bulk loads, not
	// request work, and pass uncounted.
	if ps, ok := stmt.(pqStmt); ok {
		return countingStmt{pqStmt: ps, conn: c}, nil
	}
	return stmt, nil
}

type pqStmt interface {
	driver.Stmt
	driver.StmtQueryContext
	driver.StmtExecContext
}

type countingStmt struct {
	pqStmt
	conn *countingConn
}

func (s countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	count(ctx)
	done := s.conn.watch(ctx)
	rows, err := s.pqStmt.QueryContext(ctx, args)
	return s.conn.rows(ctx, done, rows, err)
}

func (s countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	count(ctx)
	defer s.conn.watch(ctx)()
	return s.pqStmt.ExecContext(ctx, args)
}

// buffered returns what makes the rows of a statement sent with ctx ready
// to hand back: the rows as they are, or, on a request's shared
// transaction, read in full. database/sql holds the connection's lock while
// a statement is sent but not while its rows are read, and lib/pq cannot
// send a statement before the rows of the last are read: buffered, the
// statements of a request's goroutines take turns on the one connection.
func buffered(ctx context.Context) func(driver.Rows, error) (driver.Rows, error) {
	if sharedFrom(ctx) == nil {
		return passRows
	}
	return readAll
}

func passRows(rows driver.Rows, err error) (driver.Rows, error) { return rows, err }

func readAll(rows driver.Rows, err error) (driver.Rows, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	b := &bufferedRows{columns: rows.Columns()}
	for {
		row := make([]driver.Value, len(b.columns))
		if err := rows.Next(row); err == io.EOF {
			return b, nil
		} else if err != nil {
			return nil, err
		}
		for i, v := range row {
			// lib/pq hands out slices of its read buffer, valid until the
			// next row.
			if bs, ok := v.([]byte); ok {
				row[i] = bytes.Clone(bs)
			}
		}
		b.rows = append(b.rows, row)
	}
}

// bufferedRows are the rows of a statement, read.
type bufferedRows struct {
	columns []string
	rows    [][]driver.Value
}

func (b *bufferedRows) Columns() []string { return b.columns }
func (b *bufferedRows) Close() error      { return nil }

func (b *bufferedRows) Next(dest []driver.Value) error {
	if len(b.rows) == 0 {
		return io.EOF
	}
	copy(dest, b.rows[0])
	b.rows = b.rows[1:]
	return nil
}
