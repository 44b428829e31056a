package db

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Tx is a transaction. A function whose work only holds inside one (it
// locks rows until the transaction ends, or its statements must commit
// together) takes a Tx instead of sqlx.ExtContext, so that handing it the
// pool, where each statement commits alone and a lock ends with its
// statement, does not compile. A Tx is also an sqlx.ExtContext, for the
// functions that run on either.
type Tx struct{ *sqlx.Tx }

// InTx runs fn in a transaction and commits when it returns no error, so a
// mutation happens completely or not at all, with its events (the event
// log's triggers learn who acts from ctx: WithEventActor). Inside a
// request's shared transaction (BeginShared), fn runs in a savepoint of it
// instead, and what it does commits or rolls back with the request.
func InTx[T any](ctx context.Context, pool *sqlx.DB, fn func(tx Tx) (T, error)) (T, error) {
	if s := sharedFrom(ctx); s != nil {
		return inSavepoint(ctx, s, fn)
	}
	var zero T
	tx, err := pool.BeginTxx(ctx, nil)
	if err != nil {
		return zero, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := setEventActor(ctx, tx); err != nil {
		return zero, err
	}
	v, err := fn(Tx{tx})
	if err != nil {
		return zero, err
	}
	if err := tx.Commit(); err != nil {
		return zero, fmt.Errorf("commit: %w", err)
	}
	return v, nil
}

// Shared is the one transaction every statement of a request runs in, when
// the request must keep all it does or nothing: a request with an
// Idempotency-Key stores its answer in the transaction of what it did, so
// that a crash can lose neither without the other.
//
// The statements of a request run from several goroutines (dataloader
// batches); on a shared transaction, their rows are read in full before the
// statement returns (see bufferedRows), so that one connection serves them
// one after the other.
type Shared struct {
	Tx
	// savepoints numbers the savepoints InTx takes.
	savepoints atomic.Int64
}

type sharedKey struct{}

// BeginShared begins the shared transaction of a request, and returns the
// context the request's statements must be sent with. The transaction rolls
// back when ctx ends before Commit.
func BeginShared(ctx context.Context, pool *sqlx.DB) (context.Context, *Shared, error) {
	tx, err := pool.BeginTxx(ctx, nil)
	if err != nil {
		return ctx, nil, fmt.Errorf("begin: %w", err)
	}
	s := &Shared{Tx: Tx{tx}}
	return context.WithValue(ctx, sharedKey{}, s), s, nil
}

func sharedFrom(ctx context.Context) *Shared {
	s, _ := ctx.Value(sharedKey{}).(*Shared)
	return s
}

// Conn returns what the statements of ctx's request run on: its shared
// transaction, or else the replica its reads were routed to (WithReader),
// or else the pool.
func Conn(ctx context.Context, pool *sqlx.DB) sqlx.ExtContext {
	if s := sharedFrom(ctx); s != nil {
		return s.Tx
	}
	if r, ok := ctx.Value(readerKey{}).(sqlx.ExtContext); ok {
		return r
	}
	return pool
}

// inSavepoint runs fn in a savepoint of the shared transaction: when fn
// fails, what it did is undone and the request goes on, as it would after
// a transaction of its own rolled back. Savepoints nest; the sections of
// one request run one after the other, as gqlgen runs mutation fields.
//
// fn gets the shared transaction as its Tx: once the savepoint is
// released, the rows fn locked stay locked and what it wrote stays
// uncommitted until the request's transaction ends, as they would until a
// transaction of fn's own ended.
func inSavepoint[T any](ctx context.Context, s *Shared, fn func(tx Tx) (T, error)) (T, error) {
	var zero T
	name := fmt.Sprintf("intx_%d", s.savepoints.Add(1))
	if _, err := s.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return zero, fmt.Errorf("savepoint: %w", err)
	}
	if err := setEventActor(ctx, s); err != nil {
		return zero, err
	}
	v, err := fn(s.Tx)
	if err != nil {
		if _, rbErr := s.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name); rbErr != nil {
			return zero, fmt.Errorf("%w (and rolling back to the savepoint: %w)", err, rbErr)
		}
		return zero, err
	}
	if _, err := s.ExecContext(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return zero, fmt.Errorf("release savepoint: %w", err)
	}
	return v, nil
}

// InRequestSavepoint runs fn, which sends statements with ctx, in a
// savepoint of ctx's shared transaction, if it has one: when a statement of
// fn fails (a duplicate email, say), what fn did is undone and the
// transaction goes on, so the request's answer, error included, can still be
// kept. Without a shared transaction, fn just runs.
func InRequestSavepoint(ctx context.Context, fn func()) {
	s := sharedFrom(ctx)
	if s == nil {
		fn()
		return
	}
	name := fmt.Sprintf("field_%d", s.savepoints.Add(1))
	if _, err := s.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		// The transaction is failed or its context done: fn's statements
		// fail alike, and the request rolls back.
		fn()
		return
	}
	if err := setEventActor(ctx, s); err != nil {
		fn()
		return
	}
	fn()
	_, err := s.ExecContext(ctx, "RELEASE SAVEPOINT "+name)
	if pqErr, ok := errors.AsType[*pq.Error](err); ok && pqErr.Code == "25P02" { // in_failed_sql_transaction
		s.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+name)
	}
}
