package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/errcode"
)

// PrefixImportJob starts the ids of import jobs.
const PrefixImportJob = "impjob_"

// ImportJob is a row of import_job: one run of an import file, and how far
// it got.
type ImportJob struct {
	ID           string         `db:"id"`
	FileSha256   string         `db:"file_sha256"`
	FileName     *string        `db:"file_name"`
	FileSize     int64          `db:"file_size"`
	Format       FileFormat     `db:"format"`
	DryRun       bool           `db:"dry_run"`
	OnConflict   ImportConflict `db:"on_conflict"`
	CreateGroups bool           `db:"create_groups"`
	BatchSize    int            `db:"batch_size"`
	Status       ImportStatus   `db:"status"`
	RowsDone     int64          `db:"rows_done"`
	Created      int64          `db:"created"`
	Updated      int64          `db:"updated"`
	Skipped      int64          `db:"skipped"`
	Failed       int64          `db:"failed"`
	Errors       RowErrors      `db:"errors"`
	ErrorCode    *errcode.Code  `db:"error_code"`
	ErrorMessage *string        `db:"error_message"`
	CreatedBy    *string        `db:"created_by"`
	CreatedAt    time.Time      `db:"created_at"`
	UpdatedAt    time.Time      `db:"updated_at"`
	FinishedAt   *time.Time     `db:"finished_at"`
}

// ImportStatus is where an import job is.
type ImportStatus string

// The statuses of an import job.
const (
	ImportRunning   ImportStatus = "RUNNING"
	ImportSucceeded ImportStatus = "SUCCEEDED"
	ImportFailed    ImportStatus = "FAILED"
)

// FileFormat is the format of an import or export file.
type FileFormat string

// The file formats.
const (
	FormatCSV   FileFormat = "CSV"
	FormatJSONL FileFormat = "JSONL"
)

// RowError is the fault of one row of an import file.
type RowError struct {
	// Line is the line of the file the row starts on, the header being
	// line 1 of a CSV file.
	Line int64 `json:"line"`
	// Column is the CSV column or JSON key at fault, "" for the whole row.
	Column  string       `json:"column"`
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
}

// RowErrors is a jsonb array of RowError.
type RowErrors []RowError

// Scan implements sql.Scanner.
func (r *RowErrors) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("db: cannot scan %T into RowErrors", src)
	}
	return json.Unmarshal(b, r)
}

const importJobColumns = `j.id, j.file_sha256, j.file_name, j.file_size, j.format, j.dry_run, j.on_conflict, j.create_groups,
	j.batch_size, j.status, j.rows_done, j.created, j.updated, j.skipped, j.failed, j.errors, j.error_code,
	j.error_message, j.created_by, j.created_at, j.updated_at, j.finished_at`

// CreateImportJob records the start of a run of an import file.
func CreateImportJob(ctx context.Context, q sqlx.QueryerContext, j ImportJob) (*ImportJob, error) {
	const query = `INSERT INTO import_job AS j (id, file_sha256, file_name, file_size, format, dry_run, on_conflict,
			create_groups, batch_size, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ` + importJobColumns
	var out ImportJob
	err := sqlx.GetContext(ctx, q, &out, query, NewID(PrefixImportJob), j.FileSha256, j.FileName, j.FileSize, j.Format,
		j.DryRun, j.OnConflict, j.CreateGroups, j.BatchSize, j.CreatedBy)
	if err != nil {
		return nil, fmt.Errorf("create import job: %w", translate(err, "Import job"))
	}
	return &out, nil
}

// ImportJobByID returns an import job. Returns NOT_FOUND when there is none.
func ImportJobByID(ctx context.Context, q sqlx.QueryerContext, id string) (*ImportJob, error) {
	query := `SELECT ` + importJobColumns + ` FROM import_job j WHERE j.id = $1`
	var out ImportJob
	if err := sqlx.GetContext(ctx, q, &out, query, id); err != nil {
		return nil, notFound(err, "Import job", id)
	}
	return &out, nil
}

// UnfinishedImportJob returns the newest real run of the file with these
// options that did not finish (its process died, or it runs still), to be
// resumed; nil when there is none.
func UnfinishedImportJob(ctx context.Context, q sqlx.QueryerContext, sha256 string, onConflict ImportConflict, createGroups bool) (*ImportJob, error) {
	query := `SELECT ` + importJobColumns + ` FROM import_job j
		WHERE j.file_sha256 = $1 AND j.status = 'RUNNING' AND NOT j.dry_run AND j.on_conflict = $2 AND j.create_groups = $3
		ORDER BY j.created_at DESC LIMIT 1`
	var out []ImportJob
	if err := sqlx.SelectContext(ctx, q, &out, query, sha256, onConflict, createGroups); err != nil {
		return nil, fmt.Errorf("unfinished import job: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return &out[0], nil
}

// AdvanceImportJob records, in the transaction of a batch, that the job
// has done rows more rows, from done: the batch and its progress commit
// together. Returns CONFLICT when the job is not at done (another run of
// the file took it over) or no longer running; the batch must then roll
// back.
func AdvanceImportJob(ctx context.Context, q sqlx.ExtContext, id string, done, rows int64, c ImportCounts) error {
	const query = `UPDATE import_job SET rows_done = rows_done + $3, created = created + $4, updated = updated + $5,
			skipped = skipped + $6, updated_at = now()
		WHERE id = $1 AND rows_done = $2 AND status = 'RUNNING'`
	res, err := q.ExecContext(ctx, query, id, done, rows, c.Created, c.Updated, c.Skipped)
	if err != nil {
		return fmt.Errorf("advance import job: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return errcode.New(errcode.Conflict, "import job %s was taken over by another run of the file", id)
	}
	return nil
}

// SkipCommitFlush lets tx's commit return before its WAL reaches the disk
// (synchronous_commit off, for tx alone): a thousand batches of an import
// otherwise wait for a thousand flushes. It loses nothing an import needs:
// a crash of the machine can take back the last batches committed this
// way, but the job's progress commits in each batch's transaction, so the
// job then does not count them either (import_job's rows_done goes back
// with them), and the resumed run writes them again. Not for a change
// whose answer tells a client it is done.
func SkipCommitFlush(ctx context.Context, tx Tx) error {
	if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		return fmt.Errorf("skip commit flush: %w", err)
	}
	return nil
}

// MaxRowErrors is how many row errors a job keeps.
const MaxRowErrors = 1000

// FinishImportJob records the end of a run: its status, the failed rows'
// count and first errors, and for a file refused as a whole, why. A dry
// run's counts are recorded here too.
func FinishImportJob(ctx context.Context, q sqlx.ExecerContext, j *ImportJob) error {
	errs := j.Errors
	if errs == nil {
		errs = RowErrors{}
	}
	if len(errs) > MaxRowErrors {
		errs = errs[:MaxRowErrors]
	}
	b, err := json.Marshal(errs)
	if err != nil {
		return fmt.Errorf("finish import job: %w", err)
	}
	const query = `UPDATE import_job SET status = $2, rows_done = $3, created = $4, updated = $5, skipped = $6,
			failed = $7, errors = $8, error_code = $9, error_message = $10, updated_at = now(), finished_at = now()
		WHERE id = $1`
	if _, err := q.ExecContext(ctx, query, j.ID, j.Status, j.RowsDone, j.Created, j.Updated, j.Skipped, j.Failed,
		string(b), j.ErrorCode, j.ErrorMessage); err != nil {
		return fmt.Errorf("finish import job: %w", err)
	}
	return nil
}

// DryRunProgress records how far a dry run got, for import_job to report
// while it runs.
func DryRunProgress(ctx context.Context, q sqlx.ExecerContext, id string, done int64) error {
	if _, err := q.ExecContext(ctx, `UPDATE import_job SET rows_done = $2, updated_at = now() WHERE id = $1`, id, done); err != nil {
		return fmt.Errorf("import job progress: %w", err)
	}
	return nil
}
