// Package db is the storage of the customer service: migrations, and the SQL
// of every table, one file per aggregate.
//
// Functions take an sqlx.ExtContext (or the narrower QueryerContext) so that
// the same code runs on the pool or inside a transaction; those whose work
// only holds inside a transaction (locks, statements that commit together)
// take a Tx, which InTx hands out, so the pool does not compile there.
// Errors they return are *errcode.Error values for everything a client may
// cause (not found, duplicates, invalid data); anything else is an
// unexpected failure and is wrapped with its context for the logs.
package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepg "github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string) and checks that it answers. Every statement
// sent through the returned pool is counted in the context's Counter, if any.
func Open(ctx context.Context, url string) (*sqlx.DB, error) {
	return OpenWith(ctx, url, Options{})
}

// Options say how to talk to the database.
type Options struct {
	// TransactionPooler is set when url reaches PostgreSQL through a pooler
	// in transaction mode (PgBouncer's pool_mode = transaction), which may
	// give each transaction, and each statement outside one, another
	// server connection. Statements are then not kept prepared (a named
	// statement lives on one server connection), and a statement with
	// parameters is sent in one round trip (lib/pq's binary_parameters),
	// since its parse and its execution must reach the same server
	// connection.
	TransactionPooler bool
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, url string, opts Options) (*sqlx.DB, error) {
	if opts.TransactionPooler {
		url = withParameter(url, "binary_parameters", "yes")
	}
	connector, err := newConnector(url, !opts.TransactionPooler)
	if err != nil {
		return nil, err
	}
	sqlDB := sql.OpenDB(connector)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	pool := sqlx.NewDb(sqlDB, "postgres")
	SetPoolSize(pool, DefaultMaxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	pool.SetConnMaxLifetime(30 * time.Minute)
	return pool, nil
}

// OpenProbe returns a pool of one connection to the database at url, for
// health checks: apart from the requests' pool, it tells whether the
// database answers even when every request connection is at work.
func OpenProbe(url string) (*sql.DB, error) {
	connector, err := newConnector(url, false)
	if err != nil {
		return nil, err
	}
	probe := sql.OpenDB(connector)
	probe.SetMaxOpenConns(1)
	probe.SetMaxIdleConns(1)
	return probe, nil
}

// newConnector returns the driver's connector for url; prepare keeps the
// statements with parameters prepared on each connection.
func newConnector(url string, prepare bool) (driver.Connector, error) {
	connector, err := pq.NewConnector(withConnectTimeout(url))
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	connector.Dialer(&socketDialer{})
	return countingConnector{Connector: connector, prepare: prepare}, nil
}

// DefaultMaxConns is the pool size Open sets.
const DefaultMaxConns = 20

// SetPoolSize bounds the pool to n connections and keeps them all open when
// idle: a request runs its batches on several connections at once, and
// opening one (SCRAM authentication included) costs more than a query.
func SetPoolSize(pool *sqlx.DB, n int) {
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
}

// connectTimeout bounds opening a connection, so a database that does not
// answer fails requests fast instead of holding them.
const connectTimeout = "5"

// withConnectTimeout adds connect_timeout to a connection string that has
// none.
func withConnectTimeout(url string) string {
	return withParameter(url, "connect_timeout", connectTimeout)
}

// withParameter adds the parameter name=value to a connection string (a
// URL or key=value pairs) that does not set name.
func withParameter(url, name, value string) string {
	if strings.Contains(url, name+"=") {
		return url
	}
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		return url + sep + name + "=" + value
	}
	return url + " " + name + "=" + value
}

// Migrate applies every migration not yet applied. It takes PostgreSQL's
// advisory lock, so servers starting together do not race.
func Migrate(ctx context.Context, sqlDB *sql.DB) error {
	src, err := iofs.New(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	// A dedicated connection: golang-migrate closes what it is given, and the
	// pool must outlive it.
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	drv, err := migratepg.WithConnection(ctx, conn, &migratepg.Config{})
	if err != nil {
		conn.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		drv.Close()
		return fmt.Errorf("migrate: %w", err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// MigrationsHash identifies the schema the embedded migrations build, so
// test databases cloned from a migrated template are rebuilt when it changes.
func MigrationsHash() (string, error) {
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := migrations.ReadFile("migrations/" + e.Name())
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s\x00%s\x00", e.Name(), data)
	}
	return hashString(b.String()), nil
}

// translate turns the driver errors a client can cause into *errcode.Error
// values, naming the entity; other errors pass through unchanged. It is the
// one place that knows SQLSTATEs and constraint names.
func translate(err error, entity string) error {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return err
	}
	switch pqErr.Code {
	case "23505": // unique_violation
		return &errcode.Error{Code: errcode.DuplicateError, Field: uniqueFields[pqErr.Constraint],
			Message: fmt.Sprintf("%s already exists", entity)}
	case "23503": // foreign_key_violation
		return errcode.New(errcode.NotFound, "%s refers to a record that does not exist", entity)
	case "23514", "22001", "22P02", "22003": // check, string too long, bad text repr., out of range
		return errcode.New(errcode.InvalidData, "Invalid %s", entity)
	}
	return err
}

// uniqueFields names the input field each unique constraint guards.
var uniqueFields = map[string]string{
	"customer_email_has_account_key": "email",
	"customer_group_name_key":        "name",
}

// Unavailable reports whether err means the database could not be reached
// or is shutting down or starting: a failure a retry may cure, not a bug.
func Unavailable(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch {
		case pqErr.Code.Class() == "08", // connection exception
			pqErr.Code == "57P01", pqErr.Code == "57P02", pqErr.Code == "57P03", // shutdown, crash, starting
			pqErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.As(err, &netErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// TimedOut reports whether err is a statement stopped because its
// request's deadline passed.
func TimedOut(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "57014" { // query_canceled
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}
