package db_test

import (
	"context"
	"os"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	migratepg "github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"customerservice/db"
	"customerservice/db/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestMigrate(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	var n int
	if err := pool.Get(&n, `SELECT count(*) FROM customer`); err != nil {
		t.Fatal(err)
	}
}

func TestMigrationsGoDownAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	conn, err := pool.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src, err := iofs.New(db.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	drv, err := migratepg.WithConnection(ctx, conn, &migratepg.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	var tables int
	if err := pool.Get(&tables, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'`); err != nil || tables != 0 {
		t.Errorf("%d tables left after every down migration (%v)", tables, err)
	}
	if err := m.Up(); err != nil {
		t.Fatalf("up again: %v", err)
	}
	var n int
	if err := pool.Get(&n, `SELECT count(*) FROM customer`); err != nil {
		t.Fatal(err)
	}
}
