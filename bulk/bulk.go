// Package bulk imports and exports customers in bulk: CSV (a documented
// header, or Shopify's customer export) and JSON Lines files of customers
// with their addresses and group names.
//
// An import checks every row with create_customer's rules (db.CleanImport),
// the file's own duplicates and the database's, and writes in batches of
// DefaultBatchSize customers, each batch in one transaction with the
// progress of its job (an import_job row), so that a run cut short resumes
// where its last batch committed and a file run again writes nobody twice.
// A dry run checks and counts and writes nothing. An export streams the
// customers a filter selects, a page at a time in id order, so its memory
// stays flat whatever their number; its download link is signed with a key
// derived from the token secret and expires soon.
package bulk

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/errcode"
)

// Service runs imports and exports on DB.
type Service struct {
	DB *sqlx.DB
	// BatchSize is the customers per transaction of an import
	// (DefaultBatchSize when 0).
	BatchSize int
	// Links signs export download links; without it, export links fail.
	Links  *Links
	Logger *slog.Logger

	// The imports running in the background (Start), ended by Close.
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	runs   sync.WaitGroup
}

func (s *Service) init() {
	s.once.Do(func() {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		if s.Logger == nil {
			s.Logger = slog.Default()
		}
	})
}

// Start begins an import of an uploaded file in the background and returns
// its job at once; import_job(id) then reports its progress. The file is
// spooled to a temporary file first (read as a stream, never whole into
// memory), since the upload is gone when the request ends. The run acts
// as ctx's event actor. File errors found before the run (see Begin) are
// returned.
func (s *Service) Start(ctx context.Context, upload io.Reader, name string, opts Options, createdBy *string) (*db.ImportJob, error) {
	s.init()
	spool, err := os.CreateTemp("", "customerservice-import-*")
	if err != nil {
		return nil, err
	}
	cleanup := func() { spool.Close(); os.Remove(spool.Name()) }
	if _, err := io.Copy(spool, upload); err != nil {
		cleanup()
		return nil, err
	}
	job, err := s.Begin(ctx, spool, name, opts, createdBy)
	if err != nil {
		cleanup()
		return nil, err
	}
	runCtx := s.ctx
	if a, ok := db.EventActorFrom(ctx); ok {
		runCtx = db.WithEventActor(runCtx, a)
	}
	// The run works on a copy: the job returned is the caller's to read.
	run := *job
	run.Errors = slices.Clone(job.Errors)
	s.runs.Go(func() {
		defer cleanup()
		_, err := s.Run(runCtx, &run, spool, nil)
		switch {
		case err == nil:
		case run.DryRun:
			// A dry run is not resumed: say it ended, and why.
			s.Logger.Error("import dry run", "job", run.ID, "error", err)
			code, msg := errcode.Unavailable, "the dry run stopped before its end (the server stopped, or the database failed); run it again"
			run.Status, run.ErrorCode, run.ErrorMessage = db.ImportFailed, &code, &msg
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := db.FinishImportJob(ctx, s.DB, &run); err != nil {
				s.Logger.Error("import dry run", "job", run.ID, "error", err)
			}
		case runCtx.Err() == nil:
			s.Logger.Error("import", "job", run.ID, "error", err)
		}
	})
	return job, nil
}

// Close stops the imports running in the background and waits for them:
// their jobs stay RUNNING, and a run of the same file resumes them.
func (s *Service) Close() {
	s.init()
	s.cancel()
	s.runs.Wait()
}
