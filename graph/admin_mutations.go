package graph

// The admin mutations that take more than one statement, each in one
// transaction.

import (
	"context"

	"customerservice/db"
	"customerservice/graph/model"
)

func (r *Resolver) deleteCustomer(ctx context.Context, id string) (*model.DeleteResult, error) {
	return db.InTx(ctx, r.DB, func(tx db.Tx) (*model.DeleteResult, error) {
		return deleted(id, "customer", db.DeleteCustomer(ctx, tx, id))
	})
}

func (r *Resolver) createAddress(ctx context.Context, customerID string, in model.AddressInput) (*db.Address, error) {
	return prefetchedOne(ctx, prefetchAddresses)(db.InTx(ctx, r.DB, func(tx db.Tx) (*db.Address, error) {
		return db.CreateAddress(ctx, tx, customerID, addressFields(in))
	}))
}

// updateAddress changes an address; owner, when set, is the only customer
// whose address may be changed.
func (r *Resolver) updateAddress(ctx context.Context, id, owner string, in model.AddressInput) (*db.Address, error) {
	return prefetchedOne(ctx, prefetchAddresses)(db.InTx(ctx, r.DB, func(tx db.Tx) (*db.Address, error) {
		return db.UpdateAddress(ctx, tx, id, owner, addressFields(in))
	}))
}

// deleteAddress deletes an address; owner, when set, is the only customer
// whose address may be deleted.
func (r *Resolver) deleteAddress(ctx context.Context, id, owner string) (*model.DeleteResult, error) {
	return db.InTx(ctx, r.DB, func(tx db.Tx) (*model.DeleteResult, error) {
		return deleted(id, "customer_address", db.DeleteAddress(ctx, tx, id, owner))
	})
}

// changeMembers adds customers to a group (add) or removes them, and
// returns the group as it is then.
func (r *Resolver) changeMembers(ctx context.Context, groupID string, customerIDs []string, add bool) (*db.CustomerGroup, error) {
	return db.InTx(ctx, r.DB, func(tx db.Tx) (*db.CustomerGroup, error) {
		var err error
		if add {
			err = db.AddCustomersToGroup(ctx, tx, groupID, customerIDs, adminID(ctx))
		} else {
			err = db.RemoveCustomersFromGroup(ctx, tx, groupID, customerIDs)
		}
		if err != nil {
			return nil, err
		}
		return db.GroupByID(ctx, tx, groupID)
	})
}
