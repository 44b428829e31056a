package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/db/dbtest"
)

// runForTest makes the test binary, started again by a test, run the
// command its value holds (space-separated arguments): a real process the
// test can kill.
const runForTest = "CUSTOMERSERVICE_RUN_FOR_TEST"

// TestImportCommandResumesAfterKill9 kills an import process with SIGKILL
// in the middle of the file, then runs the same command again: it resumes
// after the last committed batch, and every customer is there once.
func TestImportCommandResumesAfterKill9(t *testing.T) {
	url := dbtest.URL(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "customers.csv")
	var b strings.Builder
	b.WriteString("email,has_account,first_name,address_1,address_country_code\n")
	const n = 6_000
	for i := range n {
		fmt.Fprintf(&b, "c%d@example.com,%t,N%d,%d Main St,us\n", i, i%3 == 0, i, i)
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), runForTest+"=import -file "+file+" -batch 100", "DATABASE_URL="+url, "DATA_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pool, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	// Kill it once a few batches have committed.
	var done int64
	for range 30_000 {
		pool.Get(&done, `SELECT coalesce(max(rows_done), 0) FROM import_job`)
		if done >= 500 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	var job struct {
		ID     string
		Status string
		Done   int64 `db:"rows_done"`
	}
	if err := pool.Get(&job, `SELECT id, status, rows_done FROM import_job`); err != nil {
		t.Fatal(err)
	}
	var customers int64
	pool.Get(&customers, `SELECT count(*) FROM customer`)
	if job.Status != "RUNNING" || job.Done < 500 || job.Done == n || job.Done%100 != 0 || customers != job.Done {
		t.Fatalf("after kill -9: job %+v, %d customers; want RUNNING part of the way, with its committed batches' customers", job, customers)
	}

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config{databaseURL: url, dataDir: dir, tokenTTL: time.Hour}
	if err := importCommand(context.Background(), cfg, []string{"-file", file, "-batch", "100"}, io.Discard, logger); err != nil {
		t.Fatalf("import again: %v", err)
	}
	var after struct {
		Jobs, Customers, Emails, Addresses int64
		Status                             string
		Created                            int64
	}
	pool.Get(&after.Jobs, `SELECT count(*) FROM import_job`)
	pool.Get(&after.Customers, `SELECT count(*) FROM customer`)
	pool.Get(&after.Emails, `SELECT count(DISTINCT (email, has_account)) FROM customer`)
	pool.Get(&after.Addresses, `SELECT count(*) FROM customer_address`)
	pool.QueryRow(`SELECT status, created FROM import_job WHERE id = $1`, job.ID).Scan(&after.Status, &after.Created)
	if after.Jobs != 1 || after.Customers != n || after.Emails != n || after.Addresses != n || after.Status != string(db.ImportSucceeded) || after.Created != n {
		t.Errorf("after the resumed run: %+v; want one job, %d customers once each", after, n)
	}
}

// TestExportCommandWritesWhatWasImported: the export command writes, for
// a file in its own format, the file imported; its filter flags select.
func TestExportCommandWritesWhatWasImported(t *testing.T) {
	url := dbtest.URL(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	const file = "email,has_account,first_name,last_name,phone,company_name,metadata,groups,address_name,address_company,address_first_name,address_last_name,address_1,address_2,address_city,address_province,address_postal_code,address_country_code,address_phone,address_is_default_shipping,address_is_default_billing,address_metadata\n" +
		"ann@example.com,true,Ann,Lee,,,\"{\"\"a\"\":1}\",VIP,home,,,,1 Main St,,Springfield,,,us,,true,true,\n" +
		"ann@example.com,true,,,,,,,work,,,,2 Work Rd,,,,,us,,false,false,\n" +
		"bob@example.com,false,Bob,,,,,,,,,,,,,,,,,,,\n"
	if err := os.WriteFile(in, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config{databaseURL: url, dataDir: dir, tokenTTL: time.Hour}
	ctx := context.Background()
	if err := importCommand(ctx, cfg, []string{"-file", in, "-create-groups"}, io.Discard, logger); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")
	if err := exportCommand(ctx, cfg, []string{"-format", "csv", "-o", out}, io.Discard, logger); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); string(got) != file {
		t.Errorf("export:\n%s\nwant the file imported:\n%s", got, file)
	}
	if err := exportCommand(ctx, cfg, []string{"-format", "jsonl", "-o", out, "-has-account", "false"}, io.Discard, logger); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); strings.Count(string(got), "\n") != 1 || !strings.Contains(string(got), `"email":"bob@example.com"`) {
		t.Errorf("export -has-account false:\n%s", got)
	}
	if err := exportCommand(ctx, cfg, []string{"-format", "xml", "-o", out}, io.Discard, logger); err == nil {
		t.Error("-format xml exported")
	}
}
