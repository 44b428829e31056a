package db_test

import (
	"os"
	"testing"

	"github.com/acme/customerservice/db/dbtest"
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
