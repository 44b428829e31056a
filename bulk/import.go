package bulk

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strings"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/errcode"
)

// DefaultBatchSize is how many customers a batch of a real run writes in one
// transaction: all of them or none.
const DefaultBatchSize = 1000

// Options say how an import runs.
type Options struct {
	// DryRun checks every row and counts what a real run would do, writing
	// nothing but the job.
	DryRun bool
	// OnConflict is what happens to a customer whose email and has_account
	// exist (ERROR when empty).
	OnConflict db.ImportConflict
	// CreateGroups creates the groups the file names that do not exist;
	// without it, such a row is an error (NOT_FOUND).
	CreateGroups bool
}

// Begin reads an import file once, for its hash and its header, and returns
// its job: the unfinished real run of the same file with the same options,
// to be resumed, or a new one. f is read again by Run. A file refused as a
// whole (empty, no header, unknown columns, not UTF-8) returns its FILE_
// error, and no job. createdBy is the admin user who imports, if one does.
func (s *Service) Begin(ctx context.Context, f io.ReadSeeker, name string, opts Options, createdBy *string) (*db.ImportJob, error) {
	if opts.OnConflict == "" {
		opts.OnConflict = db.ConflictError
	}
	switch opts.OnConflict {
	case db.ConflictSkip, db.ConflictUpdate, db.ConflictError:
	default:
		return nil, errcode.Invalid("on_conflict", "on_conflict must be SKIP, UPDATE or ERROR, got %q", opts.OnConflict)
	}
	h := sha256.New()
	size, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("read the import file: %w", err)
	}
	format, _, err := open(f)
	if err != nil {
		return nil, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if !opts.DryRun {
		job, err := db.UnfinishedImportJob(ctx, s.DB, sum, opts.OnConflict, opts.CreateGroups)
		if err != nil || job != nil {
			return job, err
		}
	}
	var fileName *string
	if name != "" {
		fileName = &name
	}
	return db.CreateImportJob(ctx, s.DB, db.ImportJob{FileSha256: sum, FileName: fileName, FileSize: size, Format: format,
		DryRun: opts.DryRun, OnConflict: opts.OnConflict, CreateGroups: opts.CreateGroups, BatchSize: s.batchSize(), CreatedBy: createdBy})
}

// open reads f from its start: its format, and a reader past its header.
func open(f io.ReadSeeker) (Format, reader, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", nil, fmt.Errorf("read the import file: %w", err)
	}
	br := bufio.NewReaderSize(f, 64<<10)
	format, err := sniff(br)
	if err != nil {
		return "", nil, err
	}
	r, err := newReader(br, format)
	return format, r, err
}

func (s *Service) batchSize() int {
	if s.BatchSize > 0 {
		return s.BatchSize
	}
	return DefaultBatchSize
}

// Progress is told, after each batch, how many customers of the file are
// done.
type Progress func(done int64)

// Run runs an import job on its file, f, from where the job is: the
// customers already done are read again, for the checks of duplicates
// within the file, and not written. A real run writes batch after batch,
// each in one transaction with the job's progress; a dry run writes
// nothing but the job. The job returned has finished: SUCCEEDED, or FAILED
// with its errors (a batch with row errors stops a real run, unwritten; a
// file that turns out malformed stops either). Run returns an error, the
// job left RUNNING to be resumed, when it cannot go on (ctx ended, the
// database went away), and CONFLICT when another run of the file took the
// job over.
func (s *Service) Run(ctx context.Context, job *db.ImportJob, f io.ReadSeeker, progress Progress) (*db.ImportJob, error) {
	_, r, err := open(f)
	if err != nil {
		return s.fail(ctx, job, err)
	}
	run := &importRun{s: s, job: job, format: job.Format, seen: make(map[uint64]int64), seed: maphash.MakeSeed()}
	done := job.RowsDone
	if job.DryRun {
		// A dry run is not resumed: it starts over.
		job.RowsDone, job.Created, job.Updated, job.Skipped, job.Failed, job.Errors = 0, 0, 0, 0, 0, nil
		done = 0
	}
	var index int64
	batch := make([]*row, 0, s.batchSize())
	for {
		rec, err := r.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if errcode.Of(err) == errcode.Internal {
				return job, err
			}
			return s.fail(ctx, job, err)
		}
		index++
		rw := run.check(rec)
		if index <= done {
			continue // written by the run this one resumes
		}
		batch = append(batch, rw)
		if len(batch) == cap(batch) {
			if stop, err := run.flush(ctx, batch); stop || err != nil {
				return job, err
			}
			batch = batch[:0]
			if progress != nil {
				progress(job.RowsDone)
			}
		}
	}
	if len(batch) > 0 {
		if stop, err := run.flush(ctx, batch); stop || err != nil {
			return job, err
		}
		if progress != nil {
			progress(job.RowsDone)
		}
	}
	job.Status = db.ImportSucceeded
	if job.DryRun && job.Failed > 0 {
		job.Status = db.ImportFailed
		code := errcode.InvalidData
		msg := fmt.Sprintf("%d of %d rows have errors", job.Failed, job.RowsDone)
		job.ErrorCode, job.ErrorMessage = &code, &msg
	}
	if err := db.FinishImportJob(ctx, s.DB, job); err != nil {
		return job, err
	}
	return job, nil
}

// fail ends a job refused for its file; err is the FILE_ error, or another
// with a code.
func (s *Service) fail(ctx context.Context, job *db.ImportJob, err error) (*db.ImportJob, error) {
	var e *errcode.Error
	if !errors.As(err, &e) {
		return job, err
	}
	job.Status = db.ImportFailed
	code, msg := e.Code, e.Message
	job.ErrorCode, job.ErrorMessage = &code, &msg
	if err := db.FinishImportJob(ctx, s.DB, job); err != nil {
		return job, err
	}
	return job, nil
}

// row is a customer of the file, checked.
type row struct {
	line     int64
	customer db.ImportCustomer
	err      *db.RowError
}

// importRun is the state of one run through a file.
type importRun struct {
	s      *Service
	job    *db.ImportJob
	format Format
	// seen maps each customer key of the file met so far, hashed, to its
	// line: a million keys take about 20 MB this way, against about 100 MB
	// as strings. Two keys hashing alike (odds about 1 in 10^7 for a
	// million rows) would make the second a false duplicate, refused and
	// reported, never written twice.
	seen map[uint64]int64
	seed maphash.Seed
}

// check applies create_customer's rules to a record and looks for its key
// earlier in the file.
func (run *importRun) check(rec record) *row {
	rw := &row{line: rec.line, err: rec.err}
	if rw.err != nil {
		return rw
	}
	c, err := db.CleanImport(rec.input)
	if err != nil {
		rw.err = run.rowError(rec.line, err)
		return rw
	}
	rw.customer = c
	k := maphash.String(run.seed, fmt.Sprintf("%t\x00%s", c.HasAccount, c.Email))
	if first, dup := run.seen[k]; dup {
		rw.err = &db.RowError{Line: rec.line, Column: "email", Code: errcode.DuplicateError,
			Message: fmt.Sprintf("the customer %s (has_account %t) is already on line %d of the file", c.Email, c.HasAccount, first)}
		return rw
	}
	run.seen[k] = rec.line
	return rw
}

// rowError is the row error of a field's fault, naming the file's column.
func (run *importRun) rowError(line int64, err error) *db.RowError {
	var e *errcode.Error
	if !errors.As(err, &e) {
		return &db.RowError{Line: line, Code: errcode.InvalidData, Message: "the row is not valid"}
	}
	return &db.RowError{Line: line, Column: run.column(e.Field), Code: e.Code, Message: e.Message}
}

// column names a field of db.CleanImport's errors as the file does.
func (run *importRun) column(field string) string {
	name, isAddress := strings.CutPrefix(field, "address.")
	if !isAddress {
		return strings.TrimPrefix(field, "customer.")
	}
	if run.format == db.FormatJSONL {
		return "addresses." + name
	}
	if strings.HasPrefix(name, "address_") {
		return name
	}
	return "address_" + name
}

// errRowsInvalid rolls back a batch with row errors.
var errRowsInvalid = errors.New("the batch has row errors")

// flush checks a batch against the database and, in a real run, writes it
// with the job's progress in one transaction. stop is true when the job
// has failed (it is then recorded).
func (run *importRun) flush(ctx context.Context, batch []*row) (stop bool, err error) {
	job := run.job
	if job.DryRun {
		counts, errs, err := run.checkAgainst(ctx, run.s.DB, batch)
		if err != nil {
			return true, err
		}
		job.RowsDone += int64(len(batch))
		job.Created += counts.Created
		job.Updated += counts.Updated
		job.Skipped += counts.Skipped
		job.Failed += int64(len(errs))
		job.Errors = appendErrors(job.Errors, errs)
		return false, db.DryRunProgress(ctx, run.s.DB, job.ID, job.RowsDone)
	}
	var errs []db.RowError
	counts, err := db.InTx(ctx, run.s.DB, func(tx db.Tx) (db.ImportCounts, error) {
		var counts db.ImportCounts
		if err := db.SkipCommitFlush(ctx, tx); err != nil {
			return counts, err
		}
		var err error
		if counts, errs, err = run.checkAgainst(ctx, tx, batch); err != nil {
			return counts, err
		}
		if len(errs) > 0 {
			return counts, errRowsInvalid
		}
		customers := make([]db.ImportCustomer, len(batch))
		for i, rw := range batch {
			customers[i] = rw.customer
		}
		if counts, err = db.ImportBatch(ctx, tx, customers, job.OnConflict, job.CreatedBy); err != nil {
			return counts, err
		}
		return counts, db.AdvanceImportJob(ctx, tx, job.ID, job.RowsDone, int64(len(batch)), counts)
	})
	switch {
	case errors.Is(err, errRowsInvalid):
		job.Failed += int64(len(errs))
		job.Errors = appendErrors(job.Errors, errs)
		code := errcode.InvalidData
		msg := fmt.Sprintf("%d rows of the batch from line %d have errors: the batch was not written, and the import stopped after %d customers",
			len(errs), batch[0].line, job.RowsDone)
		job.Status, job.ErrorCode, job.ErrorMessage = db.ImportFailed, &code, &msg
		return true, db.FinishImportJob(ctx, run.s.DB, job)
	case errcode.Of(err) == errcode.DuplicateError:
		// A customer created since the batch was checked (ERROR mode).
		_, err := run.s.fail(ctx, job, fmt.Errorf("batch from line %d: %w", batch[0].line, err))
		return true, err
	case err != nil:
		return true, err
	}
	job.RowsDone += int64(len(batch))
	job.Created += counts.Created
	job.Updated += counts.Updated
	job.Skipped += counts.Skipped
	return false, nil
}

func appendErrors(to db.RowErrors, errs []db.RowError) db.RowErrors {
	for _, e := range errs {
		if len(to) >= db.MaxRowErrors {
			break
		}
		to = append(to, e)
	}
	return to
}

// checkAgainst checks the rows of a batch against the database: their keys
// (an error when on_conflict is ERROR) and their groups (an error when
// they do not exist and create_groups is off). It returns what the batch
// would do and the row errors, its own and the file's, in line order.
func (run *importRun) checkAgainst(ctx context.Context, q sqlx.QueryerContext, batch []*row) (db.ImportCounts, []db.RowError, error) {
	var counts db.ImportCounts
	var keys []db.CustomerKey
	names := map[string]string{}
	for _, rw := range batch {
		if rw.err == nil {
			keys = append(keys, rw.customer.Key())
			for _, g := range rw.customer.Groups {
				names[strings.ToLower(g)] = g
			}
		}
	}
	existing, err := db.ExistingCustomers(ctx, q, keys)
	if err != nil {
		return counts, nil, err
	}
	groups := map[string]string{}
	if len(names) > 0 && !run.job.CreateGroups {
		all := make([]string, 0, len(names))
		for _, n := range names {
			all = append(all, n)
		}
		if groups, err = db.GroupIDsByNames(ctx, q, all); err != nil {
			return counts, nil, err
		}
	}
	var errs []db.RowError
	for _, rw := range batch {
		if rw.err != nil {
			errs = append(errs, *rw.err)
			continue
		}
		if !run.job.CreateGroups {
			if missing := missingGroups(rw.customer.Groups, groups); missing != "" {
				errs = append(errs, db.RowError{Line: rw.line, Column: "groups", Code: errcode.NotFound,
					Message: fmt.Sprintf("no customer group is named %s; create it, or import with create_groups", missing)})
				continue
			}
		}
		if _, ok := existing[rw.customer.Key()]; !ok {
			counts.Created++
			continue
		}
		switch run.job.OnConflict {
		case db.ConflictSkip:
			counts.Skipped++
		case db.ConflictUpdate:
			counts.Updated++
		default:
			kind := "guest"
			if rw.customer.HasAccount {
				kind = "registered customer"
			}
			errs = append(errs, db.RowError{Line: rw.line, Column: "email", Code: errcode.DuplicateError,
				Message: fmt.Sprintf("Customer with email: %s already exists (a %s); import with on_conflict SKIP or UPDATE to keep or update it", rw.customer.Email, kind)})
		}
	}
	return counts, errs, nil
}

func missingGroups(names []string, groups map[string]string) string {
	var missing []string
	for _, n := range names {
		if _, ok := groups[strings.ToLower(n)]; !ok {
			missing = append(missing, fmt.Sprintf("%q", n))
		}
	}
	return strings.Join(missing, ", ")
}
