// Package dbtest gives each test a database of its own on a real
// PostgreSQL server, cloned in milliseconds from a migrated template.
//
// The server is TEST_DATABASE_URL when set (its role must be allowed to
// create roles and databases); otherwise a throwaway cluster that the first
// test of the package starts and Main stops.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/peterldowns/pgtestdb"

	"customerservice/db"
	"customerservice/db/localpg"
)

// server is the PostgreSQL server of this test binary, set up once.
var server struct {
	once    sync.Once
	conf    pgtestdb.Config
	cluster *localpg.Cluster
	dir     string
	err     error
}

// Main runs the tests of a package that uses New, then stops the throwaway
// cluster if one was started. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if server.cluster != nil {
		if err := server.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "dbtest:", err)
		}
		os.RemoveAll(server.dir)
	}
	return code
}

// URL returns the connection URL of a new, migrated database that only tb
// uses and that is dropped when tb passes.
func URL(tb testing.TB) string {
	tb.Helper()
	server.once.Do(setUp)
	if server.err != nil {
		tb.Fatalf("dbtest: no PostgreSQL to test against: %v", server.err)
	}
	return pgtestdb.Custom(tb, server.conf, migrator{}).URL()
}

// New returns a pool connected to a new, migrated database that only tb
// uses. Statements sent through it are counted like the server's.
func New(tb testing.TB) *sqlx.DB {
	tb.Helper()
	pool, err := db.Open(context.Background(), URL(tb))
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(func() { pool.Close() })
	return pool
}

func setUp() {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		server.conf, server.err = configFromURL(u)
		return
	}
	server.dir, server.err = os.MkdirTemp("", "customerservice-test-")
	if server.err != nil {
		return
	}
	// When the cluster runs as another user (tests run as root), it must be
	// able to enter the folder.
	if server.err = os.Chmod(server.dir, 0o755); server.err != nil {
		return
	}
	server.cluster, server.err = localpg.Start(context.Background(), localpg.Options{Dir: server.dir, Ephemeral: true})
	if server.err != nil {
		return
	}
	server.conf, server.err = configFromURL(server.cluster.URL("postgres"))
}

func configFromURL(raw string) (pgtestdb.Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return pgtestdb.Config{}, fmt.Errorf("parse TEST_DATABASE_URL: %w", err)
	}
	password, _ := u.User.Password()
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	database := u.Path
	if len(database) > 0 {
		database = database[1:]
	}
	if database == "" {
		database = "postgres"
	}
	options := u.RawQuery
	if options == "" {
		options = "sslmode=disable"
	}
	return pgtestdb.Config{
		DriverName: "postgres",
		Host:       u.Hostname(),
		Port:       port,
		User:       u.User.Username(),
		Password:   password,
		Database:   database,
		Options:    options,
		// A test that fails leaves its database for inspection, so a
		// pool a test leaked must not keep the next one from being dropped.
		ForceTerminateConnections: true,
	}, nil
}

// migrator builds the template database with the service's own migrations.
type migrator struct{}

func (migrator) Hash() (string, error) { return db.MigrationsHash() }

func (migrator) Migrate(ctx context.Context, conn *sql.DB, _ pgtestdb.Config) error {
	return db.Migrate(ctx, conn)
}
