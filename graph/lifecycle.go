package graph

// The account lifecycle, mapped onto lifecycle.Service: merges and their
// previews, the GDPR export and erasure, the storefront's account
// deletion.

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/graph/model"
	"customerservice/lifecycle"
)

// mergeRequest maps a merge's arguments onto lifecycle's.
func mergeRequest(ctx context.Context, source, target string, overrides *model.CustomerMergeChoices, giveUp *model.MergeSide) lifecycle.MergeRequest {
	r := lifecycle.MergeRequest{SourceID: source, TargetID: target, Overrides: map[string]lifecycle.Side{}, By: adminID(ctx)}
	if overrides != nil {
		for name, o := range map[string]graphql.Omittable[*model.MergeSide]{
			"email": overrides.Email, "first_name": overrides.FirstName, "last_name": overrides.LastName,
			"phone": overrides.Phone, "company_name": overrides.CompanyName, "metadata": overrides.Metadata,
		} {
			if v, ok := o.ValueOK(); ok && v != nil {
				r.Overrides[name] = side(*v)
			}
		}
	}
	if giveUp != nil {
		s := side(*giveUp)
		r.GiveUpIdentity = &s
	}
	return r
}

func side(s model.MergeSide) lifecycle.Side {
	if s == model.MergeSideSource {
		return lifecycle.Source
	}
	return lifecycle.Target
}

func mergeSide(s *lifecycle.Side) *model.MergeSide {
	if s == nil {
		return nil
	}
	out := model.MergeSideTarget
	if *s == lifecycle.Source {
		out = model.MergeSideSource
	}
	return &out
}

func mergeFields(fields []lifecycle.MergeField) []*model.CustomerMergeField {
	out := make([]*model.CustomerMergeField, len(fields))
	for i, f := range fields {
		out[i] = &model.CustomerMergeField{Field: f.Field, Source: f.Source, Target: f.Target, Kept: f.Kept,
			KeptFrom: *mergeSide(&f.KeptFrom), Conflict: f.Conflict}
	}
	return out
}

func mergeRows(ids []string) *model.CustomerMergeRows {
	if ids == nil {
		ids = []string{}
	}
	return &model.CustomerMergeRows{Count: len(ids), Ids: ids}
}

func (r *Resolver) mergePreview(ctx context.Context, source, target string, overrides *model.CustomerMergeChoices, giveUp *model.MergeSide) (*model.CustomerMergePreview, error) {
	p, err := r.Lifecycle.Preview(ctx, mergeRequest(ctx, source, target, overrides, giveUp))
	if err != nil {
		return nil, err
	}
	return &model.CustomerMergePreview{SourceID: p.SourceID, TargetID: p.TargetID, Fields: mergeFields(p.Fields),
		HasAccount: p.HasAccount, IdentityConflict: p.IdentityConflict, KeptIdentity: mergeSide(p.KeptIdentity),
		Orders: mergeRows(p.Moves.OrderIDs), Addresses: mergeRows(p.Moves.AddressIDs), Groups: mergeRows(p.Moves.GroupIDs),
		Transfers: mergeRows(p.Moves.TransferIDs)}, nil
}

func (r *Resolver) mergeCustomers(ctx context.Context, source, target string, overrides *model.CustomerMergeChoices, giveUp *model.MergeSide) (*model.CustomerMerge, error) {
	m, err := r.Lifecycle.Merge(ctx, mergeRequest(ctx, source, target, overrides, giveUp))
	if err != nil {
		return nil, err
	}
	// The merged customer's relations are loaded as a customer query's
	// are, all at once.
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"CustomerMerge"}) {
		if sub := children(ctx, f, "Customer"); f.Name == "customer" && needsCustomerPrefetch(sub) {
			prefetchCustomerFields(ctx, []*db.Customer{m.Customer}, sub)
		}
	}
	return &model.CustomerMerge{ID: m.ID, SourceID: m.SourceID, TargetID: m.TargetID, Customer: m.Customer,
		Fields: mergeFields(m.Fields), IdentityGivenUp: mergeSide(m.GiveUpIdentity), KeptIdentity: mergeSide(m.KeptIdentity),
		Orders: mergeRows(m.Moves.OrderIDs), Addresses: mergeRows(m.Moves.AddressIDs), Groups: mergeRows(m.Moves.GroupIDs),
		Transfers: mergeRows(m.Moves.TransferIDs), CreatedAt: m.Record.CreatedAt}, nil
}

func (r *Resolver) anonymizeCustomer(ctx context.Context, id string) (*model.CustomerErasure, error) {
	e, err := r.Lifecycle.Anonymize(ctx, id, adminID(ctx))
	if err != nil {
		return nil, err
	}
	return &model.CustomerErasure{CustomerID: e.CustomerID, Orders: e.Orders, Addresses: e.Addresses, Transfers: e.Transfers,
		Events: e.Events, IdentityRemoved: e.IdentityRemoved, MergedCustomers: e.Merged}, nil
}

func (r *Resolver) exportMyData(ctx context.Context) (db.JSONObject, error) {
	id, err := me(ctx)
	if err != nil {
		return nil, err
	}
	return r.Lifecycle.Export(ctx, id)
}

func (r *Resolver) myAccountDeletion(ctx context.Context) (*db.AccountDeletion, error) {
	id, err := me(ctx)
	if err != nil {
		return nil, err
	}
	return r.Lifecycle.OpenDeletion(ctx, id)
}

func (r *Resolver) requestAccountDeletion(ctx context.Context) (*db.AccountDeletion, error) {
	id, err := me(ctx)
	if err != nil {
		return nil, err
	}
	return r.Lifecycle.RequestDeletion(ctx, id)
}

func (r *Resolver) cancelAccountDeletion(ctx context.Context) (*db.AccountDeletion, error) {
	id, err := me(ctx)
	if err != nil {
		return nil, err
	}
	return r.Lifecycle.CancelDeletion(ctx, id)
}

func (r *Resolver) claimGuestOrders(ctx context.Context, preview, includeAddresses bool) (*model.GuestOrderClaim, error) {
	a, err := auth.Require(ctx, auth.Customer)
	if err != nil {
		return nil, err
	}
	c, err := r.Lifecycle.ClaimGuestOrders(ctx, a.ID, a.IdentityID, preview, includeAddresses)
	if err != nil {
		return nil, err
	}
	// The orders' relations are loaded as an order list's are, all at once.
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"GuestOrderClaim"}) {
		if f.Name == "orders" && len(c.Orders) > 0 {
			prefetchOrderFields(ctx, c.Orders, children(ctx, f, "Order"))
		}
	}
	out := &model.GuestOrderClaim{Preview: c.Preview, Orders: c.Orders, AddressIds: c.AddressIDs, CanceledTransferIds: c.TransferIDs}
	if c.GuestID != "" {
		out.GuestCustomerID = &c.GuestID
	}
	return out, nil
}
