package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

// LSN is a position in PostgreSQL's write-ahead log. A write's LSN, read on
// the primary after its commit, is the client's consistency token: a
// replica that has replayed that far shows the write.
type LSN uint64

// ParseLSN reads an LSN as PostgreSQL writes it ("16/B374D848").
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok || hi == "" || lo == "" || len(hi) > 8 || len(lo) > 8 {
		return 0, errcode.New(errcode.InvalidData, "a consistency token looks like 16/B374D848")
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, errcode.New(errcode.InvalidData, "a consistency token looks like 16/B374D848")
	}
	return LSN(h<<32 | l), nil
}

func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// Replicas route the reads that tolerate replication lag to PostgreSQL
// streaming replicas, and the others to the primary. Each replica's replay
// position is polled; a read that must see a write (it presents the
// write's LSN) goes to a replica only once that replica has replayed the
// write, and otherwise to the primary. A replica that does not answer its
// poll is left out until it does, and a read that finds it down goes to
// the primary.
type Replicas struct {
	primary *sqlx.DB
	nodes   []*replica
	next    atomic.Uint64
	logger  *slog.Logger
}

type replica struct {
	pool *sqlx.DB
	name string // for the log: host and port
	// replayed is the LSN the replica had replayed at its last poll, and
	// up whether that poll was answered.
	replayed atomic.Uint64
	up       atomic.Bool
}

// OpenReplicas opens a pool on each replica URL. A replica that does not
// answer yet is not an error: it is used once its poll is answered.
func OpenReplicas(primary *sqlx.DB, urls []string, maxConns int, logger *slog.Logger) (*Replicas, error) {
	r := &Replicas{primary: primary, logger: logger}
	for _, u := range urls {
		connector, err := newConnector(u, true)
		if err != nil {
			r.Close()
			return nil, err
		}
		pool := sqlx.NewDb(sql.OpenDB(connector), "postgres")
		SetPoolSize(pool, maxConns)
		pool.SetConnMaxIdleTime(5 * time.Minute)
		r.nodes = append(r.nodes, &replica{pool: pool, name: hostOf(u)})
	}
	return r, nil
}

// hostOf is the host and port of a connection string, without its
// credentials.
func hostOf(url string) string {
	cfg, err := pq.NewConfig(url)
	if err != nil {
		return "replica"
	}
	return fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
}

// Close closes the replicas' pools.
func (r *Replicas) Close() {
	for _, n := range r.nodes {
		n.pool.Close()
	}
}

// Run polls every replica's replay position every interval until ctx
// ends.
func (r *Replicas) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, n := range r.nodes {
			r.poll(ctx, n, interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll polls every replica once; a test's way to see a change at once.
func (r *Replicas) Poll(ctx context.Context) {
	for _, n := range r.nodes {
		r.poll(ctx, n, time.Second)
	}
}

func (r *Replicas) poll(ctx context.Context, n *replica, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, max(timeout, 500*time.Millisecond))
	defer cancel()
	var replayed sql.NullString
	err := n.pool.QueryRowContext(ctx, `SELECT pg_last_wal_replay_lsn()::text`).Scan(&replayed)
	var lsn LSN
	if err == nil {
		if !replayed.Valid {
			err = errors.New("not a standby: pg_last_wal_replay_lsn() is null")
		} else {
			lsn, err = ParseLSN(replayed.String)
		}
	}
	if err != nil {
		if n.up.Swap(false) {
			r.logger.WarnContext(ctx, "replica left out of reads", "replica", n.name, "error", err)
		}
		return
	}
	n.replayed.Store(uint64(lsn))
	if !n.up.Swap(true) {
		r.logger.InfoContext(ctx, "replica serves reads", "replica", n.name, "replayed", lsn.String())
	}
}

// Reader returns what a read that must see the writes up to min runs on: a
// replica that has replayed that far (in turn, when several have), else
// nil, for the primary.
func (r *Replicas) Reader(min LSN) sqlx.ExtContext {
	if r == nil || len(r.nodes) == 0 {
		return nil
	}
	start := r.next.Add(1)
	for i := range uint64(len(r.nodes)) {
		n := r.nodes[(start+i)%uint64(len(r.nodes))]
		if n.up.Load() && LSN(n.replayed.Load()) >= min {
			return &replicaReader{replica: n, primary: r.primary}
		}
	}
	return nil
}

// WriteLSN returns the primary's WAL insert position: read after a
// commit, it is at or past the commit's record.
func (r *Replicas) WriteLSN(ctx context.Context) (LSN, error) {
	var s string
	if err := r.primary.QueryRowContext(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&s); err != nil {
		return 0, fmt.Errorf("read the write position: %w", err)
	}
	return ParseLSN(s)
}

// replicaReader reads from a replica, and from the primary when the
// replica turns out to be down; writes go to the primary.
type replicaReader struct {
	replica *replica
	primary *sqlx.DB
}

func (q *replicaReader) failed(err error) bool {
	if err != nil && Unavailable(err) {
		q.replica.up.Store(false) // until its next poll says otherwise
		return true
	}
	return false
}

func (q *replicaReader) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := q.replica.pool.QueryContext(ctx, query, args...)
	if q.failed(err) {
		return q.primary.QueryContext(ctx, query, args...)
	}
	return rows, err
}

func (q *replicaReader) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	rows, err := q.replica.pool.QueryxContext(ctx, query, args...)
	if q.failed(err) {
		return q.primary.QueryxContext(ctx, query, args...)
	}
	return rows, err
}

func (q *replicaReader) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	row := q.replica.pool.QueryRowxContext(ctx, query, args...)
	if q.failed(row.Err()) {
		return q.primary.QueryRowxContext(ctx, query, args...)
	}
	return row
}

func (q *replicaReader) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.primary.ExecContext(ctx, query, args...)
}

func (q *replicaReader) DriverName() string         { return q.primary.DriverName() }
func (q *replicaReader) Rebind(query string) string { return q.primary.Rebind(query) }
func (q *replicaReader) BindNamed(query string, arg any) (string, []any, error) {
	return q.primary.BindNamed(query, arg)
}

type readerKey struct{}

// WithReader makes Conn return reader for ctx's statements: a read-only
// operation's, routed to a replica.
func WithReader(ctx context.Context, reader sqlx.ExtContext) context.Context {
	return context.WithValue(ctx, readerKey{}, reader)
}

// Consistency is what a request knows of the writes it must see and has
// made: the consistency token it presented, and whether it wrote.
type Consistency struct {
	// Min is the LSN of the last write the client saw (0 without a token).
	Min   LSN
	wrote atomic.Bool
}

type consistencyKey struct{}

// WithConsistency gives ctx's request its Consistency.
func WithConsistency(ctx context.Context, c *Consistency) context.Context {
	return context.WithValue(ctx, consistencyKey{}, c)
}

// ConsistencyFrom returns ctx's Consistency, or nil.
func ConsistencyFrom(ctx context.Context) *Consistency {
	c, _ := ctx.Value(consistencyKey{}).(*Consistency)
	return c
}

// MarkWrite records that ctx's request writes, so its answer carries the
// token of its writes.
func MarkWrite(ctx context.Context) {
	if c := ConsistencyFrom(ctx); c != nil {
		c.wrote.Store(true)
	}
}

// Wrote reports whether the request wrote.
func (c *Consistency) Wrote() bool { return c.wrote.Load() }
