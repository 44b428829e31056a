package lifecycle

import (
	"context"
	"log/slog"
	"time"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/errcode"
)

// How an account deletion goes (README.md, "The account lifecycle"):
//
//  1. request_account_deletion, signed in as the customer: a single-use
//     token, valid for DeletionTokenTTL, is mailed to the customer's
//     email through the outbox, in the request's transaction. A newer
//     request replaces an unconfirmed one.
//  2. confirm_account_deletion(token), with no sign-in needed (whoever
//     reads the mail holds the token, as with password resets): the
//     deletion is scheduled Grace from now, and a mail says when.
//  3. Until then, cancel_account_deletion, signed in, cancels it.
//  4. RunDeletions, a background job in every server, carries out due
//     deletions: the customer is erased (Anonymize's erasure) as the
//     system, and the request completed.
//
// Being signed in starts it (the account's owner asks), and the mailbox
// confirms it (a stolen session alone cannot delete an account); the
// grace period undoes a mistake, or a stolen session and mailbox, in time.

// RequestDeletion records a signed-in customer's request to delete its
// account and mails the confirmation token to its email. Returns
// NOT_FOUND for a deleted or unknown customer, CONFLICT when a deletion is
// scheduled already, and RATE_LIMITED past DeletionRequestsPerHour.
func (s *Service) RequestDeletion(ctx context.Context, customerID string) (*db.AccountDeletion, error) {
	token, hash, err := auth.NewSecretToken()
	if err != nil {
		return nil, err
	}
	expires := time.Now().Add(DeletionTokenTTL).Truncate(time.Second)
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*db.AccountDeletion, error) {
		locked, err := db.LockCustomersForChange(ctx, tx, []string{customerID})
		if err != nil {
			return nil, err
		}
		c := locked[customerID]
		if c == nil || c.DeletedAt != nil {
			return nil, &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "Customer with id: " + customerID + " was not found"}
		}
		open, err := db.OpenAccountDeletion(ctx, tx, customerID)
		if err != nil {
			return nil, err
		}
		if open != nil && open.Status == db.DeletionScheduled {
			return nil, errcode.New(errcode.Conflict, "The account's deletion is scheduled for %s already; cancel_account_deletion cancels it",
				open.ScheduledFor.UTC().Format(time.RFC3339))
		}
		n, err := db.AccountDeletionsSince(ctx, tx, customerID, time.Now().Add(-time.Hour))
		if err != nil {
			return nil, err
		}
		if n >= DeletionRequestsPerHour {
			return nil, errcode.Limited(time.Hour, "At most %d account deletion requests an hour; try again later", DeletionRequestsPerHour)
		}
		d, err := db.CreateAccountDeletion(ctx, tx, customerID, hash, expires)
		if err != nil {
			return nil, err
		}
		err = db.EnqueueNotification(ctx, tx, c.Email, "account_deletion", db.JSONObject{
			"token": token, "request_id": d.ID, "expires_at": expires.UTC().Format(time.RFC3339),
			"grace": s.grace().String(),
		}, expires)
		return d, err
	})
}

// ConfirmDeletion spends a deletion token and schedules the deletion
// Grace from now, telling the customer by mail when it will happen.
// Returns NOT_ALLOWED "Invalid token." for a token that is wrong, used,
// replaced, canceled or expired.
func (s *Service) ConfirmDeletion(ctx context.Context, token string) (*db.AccountDeletion, error) {
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*db.AccountDeletion, error) {
		d, err := db.ConfirmAccountDeletion(ctx, tx, auth.HashToken(token), s.grace())
		if err != nil {
			return nil, err
		}
		c, err := db.CustomerByID(ctx, tx, d.CustomerID)
		if err != nil {
			return nil, err
		}
		err = db.EnqueueNotification(ctx, tx, c.Email, "account_deletion_scheduled", db.JSONObject{
			"request_id": d.ID, "scheduled_for": d.ScheduledFor.UTC().Format(time.RFC3339),
		}, time.Time{})
		return d, err
	})
}

// CancelDeletion cancels the signed-in customer's open deletion request,
// confirmed or not. Returns NOT_FOUND when there is none.
func (s *Service) CancelDeletion(ctx context.Context, customerID string) (*db.AccountDeletion, error) {
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*db.AccountDeletion, error) {
		return db.CancelAccountDeletion(ctx, tx, customerID)
	})
}

// OpenDeletion returns the customer's open deletion request, or nil.
func (s *Service) OpenDeletion(ctx context.Context, customerID string) (*db.AccountDeletion, error) {
	return db.OpenAccountDeletion(ctx, s.conn(ctx), customerID)
}

// deletionBatch is how many deletions one ProcessDueDeletions carries out.
const deletionBatch = 20

// ProcessDueDeletions carries out the scheduled deletions whose time has
// come, each in a transaction of its own (servers share the work: a
// request another server holds is passed by), and returns how many.
func (s *Service) ProcessDueDeletions(ctx context.Context) (int, error) {
	for n := 0; n < deletionBatch; n++ {
		done, err := db.InTx(ctx, s.DB, func(tx db.Tx) (bool, error) {
			d, err := db.ClaimDueAccountDeletion(ctx, tx)
			if err != nil || d == nil {
				return false, err
			}
			_, err = s.erase(ctx, tx, d.CustomerID, "account_deletion", nil)
			return true, err
		})
		if err != nil || !done {
			return n, err
		}
	}
	return deletionBatch, nil
}

// RunDeletions carries out due account deletions every interval until ctx
// is done.
func (s *Service) RunDeletions(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := s.ProcessDueDeletions(ctx)
			if err != nil && ctx.Err() == nil {
				logger.ErrorContext(ctx, "account deletions", "error", err)
			}
			if err != nil || n < deletionBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
