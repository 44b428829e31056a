package lifecycle

import (
	"context"

	"customerservice/db"
	"customerservice/errcode"
)

// Export returns everything the service holds about a customer, deleted
// or not, as one JSON document: the profile, the login identity (without
// its password hash or token generation), addresses (deleted ones too,
// which the service still holds), groups, orders with their items, order
// transfers, merges, account deletion requests, the outbox's messages to
// its emails (without their tokens) and its events from the event log.
// Returns NOT_FOUND for an unknown customer.
func (s *Service) Export(ctx context.Context, customerID string) (db.JSONObject, error) {
	return db.CustomerExport(ctx, s.conn(ctx), customerID)
}

// Erasure is what an erasure did.
type Erasure struct {
	CustomerID string
	db.ErasureCounts
	Transfers int
	// Merged are the customers merged into this one earlier, whose rows
	// held its personal data too and were erased with it.
	Merged []string
}

// Anonymize erases a customer's personal data, irreversibly, in one
// transaction (see db.EraseCustomers for everything it reaches): names,
// phone, company and metadata go, the email becomes
// anonymized+<id>@invalid, addresses are deleted, orders keep their items
// and totals but lose their email and address copies, the login identity
// is removed (its tokens stop working), pending order transfers and open
// account deletion requests are ended, the event log's personal values
// about the customer are redacted, and the customer is soft-deleted.
// Customers merged into it earlier are erased with it. The erasure is
// recorded, and written to the log as customer.anonymized with counts
// only. Deleted customers can be erased: their rows still hold the data.
// Returns NOT_FOUND for an unknown customer and CONFLICT for one erased
// already.
func (s *Service) Anonymize(ctx context.Context, customerID string, by *string) (*Erasure, error) {
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*Erasure, error) {
		return s.erase(ctx, tx, customerID, "admin", by)
	})
}

func (s *Service) erase(ctx context.Context, tx db.Tx, customerID, reason string, by *string) (*Erasure, error) {
	// The customer is locked before its merged customers are listed, so
	// that a merge into it either ends before (and its source is listed)
	// or waits and finds it deleted.
	locked, err := db.LockCustomersForChange(ctx, tx, []string{customerID})
	if err != nil {
		return nil, err
	}
	if locked[customerID] == nil {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "Customer with id: " + customerID + " was not found"}
	}
	if erased, err := db.IsErased(ctx, tx, customerID); err != nil {
		return nil, err
	} else if erased {
		return nil, errcode.New(errcode.Conflict, "Customer with id: %s is anonymized already", customerID)
	}
	ids, err := db.MergedInto(ctx, tx, customerID)
	if err != nil {
		return nil, err
	}
	if _, err := db.LockCustomersForChange(ctx, tx, ids); err != nil {
		return nil, err
	}
	transfers, err := db.CancelTransfers(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	if err := db.CloseAccountDeletions(ctx, tx, ids); err != nil {
		return nil, err
	}
	counts, err := db.EraseCustomers(ctx, tx, ids, customerID)
	if err != nil {
		return nil, err
	}
	out := &Erasure{CustomerID: customerID, ErasureCounts: counts, Transfers: len(transfers), Merged: []string{}}
	if err := db.RecordErasure(ctx, tx, db.Erasure{CustomerID: customerID, Reason: reason, Counts: counts,
		Transfers: len(transfers), ErasedBy: by}); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if id == customerID {
			continue
		}
		out.Merged = append(out.Merged, id)
		if err := db.RecordErasure(ctx, tx, db.Erasure{CustomerID: id, Reason: "merged", ErasedBy: by}); err != nil {
			return nil, err
		}
	}
	return out, nil
}
