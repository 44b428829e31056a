-- Customer imports (package bulk): one row per run of a file, recording its
-- progress in the transaction of each batch it writes, so that a run cut
-- short (a crash, a kill) is resumed where its last batch committed, and a
-- file run again writes no customer twice.
CREATE TABLE import_job (
    id            text PRIMARY KEY CHECK (id ~ '^impjob_[0-9A-Z]{26}$'),
    -- The file's SHA-256, hex: a run of the same file with the same
    -- options resumes the job instead of starting another.
    file_sha256   text NOT NULL CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    file_name     text,
    file_size     bigint NOT NULL,
    format        text NOT NULL CHECK (format IN ('CSV', 'JSONL')),
    dry_run       boolean NOT NULL,
    on_conflict   text NOT NULL CHECK (on_conflict IN ('SKIP', 'UPDATE', 'ERROR')),
    create_groups boolean NOT NULL,
    batch_size    integer NOT NULL CHECK (batch_size > 0),
    status        text NOT NULL DEFAULT 'RUNNING' CHECK (status IN ('RUNNING', 'SUCCEEDED', 'FAILED')),
    -- Customers (records) of the file done: committed, for a real run.
    rows_done     bigint NOT NULL DEFAULT 0,
    created       bigint NOT NULL DEFAULT 0,
    updated       bigint NOT NULL DEFAULT 0,
    skipped       bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    -- The first row errors: [{"line", "column", "code", "message"}].
    errors        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(errors) = 'array'),
    -- Why the whole file failed, when it did.
    error_code    text,
    error_message text,
    created_by    text REFERENCES admin_user (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);
-- Finds the unfinished run of a file to resume.
CREATE INDEX import_job_resume_idx ON import_job (file_sha256) WHERE status = 'RUNNING' AND NOT dry_run;
