package db

import (
	"context"
	"database/sql/driver"
	"net"
	"sync/atomic"
	"time"
)

// statementGrace is how long a statement may go on after its context ends
// before its connection is cut. lib/pq sends PostgreSQL a cancel request
// when the context ends, which a live server answers within milliseconds;
// a server that is frozen (stopped, swapping, partitioned away) answers
// neither that nor the statement, and without a cut the statement, its
// goroutine and its connection would wait for as long as the freeze lasts.
const statementGrace = time.Second

// socketDialer dials PostgreSQL for lib/pq and hands the socket to the
// connection being opened (see countingConnector.Connect), so that the
// connection can cut it.
type socketDialer struct{ net.Dialer }

type socketKey struct{}

func (d *socketDialer) Dial(network, address string) (net.Conn, error) {
	return d.Dialer.Dial(network, address)
}

func (d *socketDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	dialer := d.Dialer
	dialer.Timeout = timeout
	return dialer.Dial(network, address)
}

func (d *socketDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := d.Dialer.DialContext(ctx, network, address)
	if slot, ok := ctx.Value(socketKey{}).(*net.Conn); ok && err == nil {
		*slot = conn
	}
	return conn, err
}

// watch arms the connection's watchdog for one statement sent with ctx:
// when ctx ends and the statement has not returned statementGrace later,
// the socket is cut, the statement fails, and the connection is never used
// again. The returned func disarms it, when the statement has returned.
func (c *countingConn) watch(ctx context.Context) (done func()) {
	if c.sock == nil || ctx.Done() == nil {
		return func() {}
	}
	returned := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(statementGrace)
		defer t.Stop()
		select {
		case <-returned:
		case <-t.C:
			c.broken.Store(true)
			c.sock.SetDeadline(time.Unix(1, 0))
		}
	})
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			stop()
			close(returned)
		}
	}
}

// IsValid keeps a cut connection out of the pool.
func (c *countingConn) IsValid() bool { return !c.broken.Load() && c.pqConn.IsValid() }

// ResetSession refuses a cut connection, which database/sql then discards.
func (c *countingConn) ResetSession(ctx context.Context) error {
	if c.broken.Load() {
		return driver.ErrBadConn
	}
	return c.pqConn.ResetSession(ctx)
}

// Ping is watched like a statement: a health check must fail on a frozen
// server, not wait for it.
func (c *countingConn) Ping(ctx context.Context) error {
	defer c.watch(ctx)()
	return c.pqConn.Ping(ctx)
}

// BeginTx watches the BEGIN, and the transaction's COMMIT or ROLLBACK with
// the context it was begun with: database/sql sends those without one.
func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	done := c.watch(ctx)
	tx, err := c.pqConn.BeginTx(ctx, opts)
	done()
	if err != nil {
		return nil, err
	}
	return &watchedTx{Tx: tx, ctx: ctx, conn: c}, nil
}

type watchedTx struct {
	driver.Tx
	ctx  context.Context
	conn *countingConn
}

func (t *watchedTx) Commit() error {
	defer t.conn.watch(t.ctx)()
	return t.Tx.Commit()
}

func (t *watchedTx) Rollback() error {
	// database/sql rolls back when the context has ended, and a live server
	// rolls back at once: the rollback gets statementGrace from now.
	defer t.conn.watch(ended())()
	return t.Tx.Rollback()
}

// ended returns a context that has ended.
func ended() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// watchedRows disarms a query's watchdog when its rows are closed: a
// server can freeze while it sends them.
type watchedRows struct {
	driver.Rows
	done func()
}

func (r *watchedRows) Close() error {
	defer r.done()
	return r.Rows.Close()
}
