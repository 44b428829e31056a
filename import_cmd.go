package main

// customerservice import and export: customers in bulk, from and to files
// (package bulk), on the database the server uses.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"customerservice/bulk"
	"customerservice/db"
)

// importCommand runs "import": the customers of -file, with a progress
// bar. Its changes' events are the system's. Exits 1 when the job fails.
func importCommand(ctx context.Context, cfg config, args []string, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	file := fs.String("file", "", "the CSV or JSON Lines file to import (required)")
	dryRun := fs.Bool("dry-run", false, "check every row and count what an import would do, writing nothing")
	onConflict := fs.String("on-conflict", "ERROR", "what to do with a customer whose email and has_account exist: SKIP, UPDATE or ERROR")
	createGroups := fs.Bool("create-groups", false, "create the groups the file names that do not exist")
	batch := fs.Int("batch", bulk.DefaultBatchSize, "customers per transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 || *batch < 1 {
		fs.Usage()
		return errors.New("import: -file is required, -batch at least 1")
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	d, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	s := &bulk.Service{DB: d.pool, BatchSize: *batch, Logger: logger}
	opts := bulk.Options{DryRun: *dryRun, OnConflict: db.ImportConflict(strings.ToUpper(*onConflict)), CreateGroups: *createGroups}
	job, err := s.Begin(ctx, f, filepath.Base(*file), opts, nil)
	if err != nil {
		return err
	}
	if job.RowsDone > 0 {
		logger.Info("resuming the unfinished import of this file", "job", job.ID, "done", job.RowsDone)
	}
	counted := &countingReader{ReadSeeker: f}
	bar := &byteBar{w: stderr, start: time.Now(), total: info.Size(), read: &counted.n}
	job, err = s.Run(ctx, job, counted, bar.update)
	bar.done(job.RowsDone)
	if err != nil {
		return fmt.Errorf("import %s (job %s, resumable: run the same command again): %w", *file, job.ID, err)
	}
	logger.Info("import", "job", job.ID, "status", job.Status, "dry_run", job.DryRun, "rows", job.RowsDone,
		"created", job.Created, "updated", job.Updated, "skipped", job.Skipped, "failed", job.Failed,
		"took", time.Since(bar.start).Round(time.Millisecond))
	for i, e := range job.Errors {
		if i == 20 {
			fmt.Fprintf(stderr, "... and %d more rows with errors (import_job(id: %q) lists up to 1,000)\n", job.Failed-20, job.ID)
			break
		}
		fmt.Fprintf(stderr, "line %d, %s: %s: %s\n", e.Line, cmpOr(e.Column, "row"), e.Code, e.Message)
	}
	if job.Status == db.ImportFailed {
		return fmt.Errorf("import failed: %s: %s", deref(job.ErrorCode), deref(job.ErrorMessage))
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// countingReader counts the bytes read from the start of the file, for
// the progress bar; a seek back to the start starts the count again.
type countingReader struct {
	io.ReadSeeker
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadSeeker.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Seek(offset int64, whence int) (int64, error) {
	pos, err := c.ReadSeeker.Seek(offset, whence)
	c.n = pos
	return pos, err
}

// byteBar draws an import's progress by the bytes of the file read (the
// number of customers in a file is not known until its end).
type byteBar struct {
	w     io.Writer
	start time.Time
	total int64
	read  *int64
	last  time.Time
}

func (b *byteBar) update(done int64) {
	if time.Since(b.last) < 200*time.Millisecond && *b.read < b.total {
		return // five redraws a second are enough
	}
	b.last = time.Now()
	const width = 30
	read := *b.read
	filled := int(width * read / max(b.total, 1))
	elapsed := time.Since(b.start)
	rate := float64(done) / max(elapsed.Seconds(), 0.001)
	eta := time.Duration(float64(b.total-read) / max(float64(read)/max(elapsed.Seconds(), 0.001), 1) * float64(time.Second))
	fmt.Fprintf(b.w, "\r[%s%s] %3d%%  %d customers  %.0f/s  %s elapsed  ~%s left ",
		strings.Repeat("#", min(filled, width)), strings.Repeat(".", width-min(filled, width)), 100*read/max(b.total, 1), done, rate,
		elapsed.Round(time.Second), eta.Round(time.Second))
}

func (b *byteBar) done(rows int64) {
	*b.read = b.total
	b.update(rows)
	fmt.Fprintln(b.w)
}

// exportCommand runs "export": the customers the filter flags select,
// written to -o as -format.
func exportCommand(ctx context.Context, cfg config, args []string, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	format := fs.String("format", "csv", "csv or jsonl")
	out := fs.String("o", "", "the file to write (required); written whole or not at all")
	var f db.CustomerFilter
	fs.Func("q", "search email, names, phone and company name (as the customers filter's q)", func(v string) error { f.Q = &v; return nil })
	fs.Func("email", "these emails, comma-separated", func(v string) error { f.Email = strings.Split(v, ","); return nil })
	fs.Func("id", "these ids, comma-separated", func(v string) error { f.ID = strings.Split(v, ","); return nil })
	fs.Func("group-id", "customers in any of these groups, comma-separated", func(v string) error { f.GroupID = strings.Split(v, ","); return nil })
	fs.Func("company-name", "this company name, in any letter case", func(v string) error { f.CompanyName = &v; return nil })
	fs.Func("has-account", "true: registered customers; false: guests", func(v string) error {
		b := v == "true"
		if !b && v != "false" {
			return errors.New("must be true or false")
		}
		f.HasAccount = &b
		return nil
	})
	fs.Func("created-after", "created at or after this RFC 3339 time", func(v string) error {
		t, err := time.Parse(time.RFC3339, v)
		f.CreatedAt = timeRange(f.CreatedAt)
		f.CreatedAt.Gte = &t
		return err
	})
	fs.Func("created-before", "created before this RFC 3339 time", func(v string) error {
		t, err := time.Parse(time.RFC3339, v)
		f.CreatedAt = timeRange(f.CreatedAt)
		f.CreatedAt.Lt = &t
		return err
	})
	fs.BoolVar(&f.WithDeleted, "with-deleted", false, "include deleted customers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ff := db.FileFormat(strings.ToUpper(*format))
	if *out == "" || fs.NArg() > 0 || (ff != db.FormatCSV && ff != db.FormatJSONL) {
		fs.Usage()
		return errors.New("export: -o is required, -format csv or jsonl")
	}
	d, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	total, err := db.CountCustomers(ctx, d.pool, f)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	start := time.Now()
	var read int64
	bar := &byteBar{w: stderr, start: start, total: int64(max(total, 1)), read: &read}
	s := &bulk.Service{DB: d.pool, Logger: logger}
	n, err := s.Export(ctx, tmp, f, ff, func(done int64) { read = done; bar.update(done) })
	bar.done(n)
	if err == nil {
		err = tmp.Close()
	}
	if err != nil {
		tmp.Close()
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	logger.Info("export", "file", *out, "customers", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func timeRange(r *db.TimeRange) *db.TimeRange {
	if r == nil {
		return &db.TimeRange{}
	}
	return r
}
