package lifecycle

import (
	"context"
	"encoding/json"
	"reflect"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/errcode"
)

// Side is one of the two customers of a merge.
type Side string

// The sides of a merge: the source is merged into the target, which stays.
const (
	Source Side = "source"
	Target Side = "target"
)

// MergeFields are the fields a merge chooses a value for, in the order a
// preview lists them.
var MergeFields = []string{"email", "first_name", "last_name", "phone", "company_name", "metadata"}

// MergeRequest is what an admin asks a merge (or its preview) to do.
type MergeRequest struct {
	SourceID, TargetID string
	// Overrides choose the side whose value a field keeps, by field name
	// (MergeFields); a field left out keeps the default.
	Overrides map[string]Side
	// GiveUpIdentity, when both customers have a login identity, names
	// the one that stops logging in to the merged customer. Medusa lets
	// an identity have one customer; a merge must not silently take an
	// account away from whoever logs in with it.
	GiveUpIdentity *Side
	// By is the admin user merging, for the record.
	By *string
}

// MergeField is one field of the merged customer.
type MergeField struct {
	Field string
	// Source, Target and Kept are the values, as text (metadata as JSON),
	// nil when empty.
	Source, Target, Kept *string
	KeptFrom             Side
	// Conflict is true when both customers have a value and they differ.
	Conflict bool
}

// MergePlan is what a merge does: the preview, and then the record.
type MergePlan struct {
	SourceID, TargetID string
	Fields             []MergeField
	// HasAccount is whether the merged customer is registered.
	HasAccount bool
	// IdentityConflict is true when both customers have a login identity.
	IdentityConflict bool
	// KeptIdentity is the side whose identity logs in to the merged
	// customer, nil when none does; GiveUpIdentity the side whose identity
	// is unlinked because of the conflict.
	KeptIdentity, GiveUpIdentity *Side
	Moves                        db.MergeMoves

	merged         db.MergedFields
	sourceIdentity *db.Identity
	targetIdentity *db.Identity
}

// Merge is a merge done: its plan, its record and the target as it is now.
type Merge struct {
	MergePlan
	ID       string
	Customer *db.Customer
	Record   *db.Merge
}

// Preview shows what Merge would do with these arguments, as the rows are
// now: the merged customer field by field (whose value each keeps, and
// which differ), whether it is registered and whose identity logs in to
// it, and the orders, addresses, memberships and pending transfers the
// merge moves or cancels. An identity conflict without GiveUpIdentity is
// shown (IdentityConflict), not refused. Returns INVALID_DATA for a merge
// of a customer with itself or a bad choice, NOT_FOUND for an unknown
// customer, NOT_ALLOWED for a deleted one and CONFLICT for a customer
// whose account deletion is open.
func (s *Service) Preview(ctx context.Context, r MergeRequest) (*MergePlan, error) {
	if err := checkMergeArgs(r); err != nil {
		return nil, err
	}
	q := s.conn(ctx)
	customers, err := db.CustomersWithDeleted(ctx, q, []string{r.SourceID, r.TargetID})
	if err != nil {
		return nil, err
	}
	p, err := s.plan(ctx, q, customers, r, true)
	if err != nil {
		return nil, err
	}
	if p.Moves, err = db.MergeMovesOf(ctx, q, r.SourceID, r.TargetID); err != nil {
		return nil, err
	}
	return p, nil
}

// Merge merges the source customer into the target in one transaction:
// the source's orders and addresses move to the target (the target's
// default addresses stand; a moved default stays one where the target has
// none), the target joins the source's groups (no membership twice), the
// pending order transfers concerning the source are canceled, the fields
// take the values the plan keeps, the source's login identity logs in to
// the target unless given up, and the source is soft-deleted. A merge
// record is kept and customer.merged written.
//
// Both customers are locked first, in id order, so two merges of one
// customer run one after the other (the second finds it deleted), and a
// checkout for the source either ends before the merge moves its orders or
// waits and finds the source deleted. Returns the errors of Preview, and
// NOT_ALLOWED when both customers have a login identity and
// GiveUpIdentity names neither, or DUPLICATE_ERROR when the kept email
// belongs to another living customer of the same kind.
func (s *Service) Merge(ctx context.Context, r MergeRequest) (*Merge, error) {
	if err := checkMergeArgs(r); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*Merge, error) {
		customers, err := db.LockCustomersForChange(ctx, tx, []string{r.SourceID, r.TargetID})
		if err != nil {
			return nil, err
		}
		p, err := s.plan(ctx, tx, customers, r, false)
		if err != nil {
			return nil, err
		}
		m := &Merge{MergePlan: *p}
		if m.Moves.TransferIDs, err = db.CancelTransfers(ctx, tx, []string{r.SourceID}); err != nil {
			return nil, err
		}
		if m.Moves.OrderIDs, err = db.MoveOrders(ctx, tx, r.SourceID, r.TargetID); err != nil {
			return nil, err
		}
		if m.Moves.AddressIDs, err = db.MoveAddresses(ctx, tx, r.SourceID, r.TargetID); err != nil {
			return nil, err
		}
		if m.Moves.GroupIDs, err = db.CopyMemberships(ctx, tx, r.SourceID, r.TargetID, r.By); err != nil {
			return nil, err
		}
		// Identities are unlinked before the source is deleted and the
		// target's fields change, and the kept one linked after, so each
		// step leaves one customer per identity.
		if p.sourceIdentity != nil {
			if err := db.UnlinkIdentity(ctx, tx, p.sourceIdentity.ID); err != nil {
				return nil, err
			}
		}
		if p.GiveUpIdentity != nil && *p.GiveUpIdentity == Target {
			if err := db.UnlinkIdentity(ctx, tx, p.targetIdentity.ID); err != nil {
				return nil, err
			}
		}
		if err := db.DeleteCustomer(ctx, tx, r.SourceID); err != nil {
			return nil, err
		}
		if m.Customer, err = db.SetMergedFields(ctx, tx, r.TargetID, p.merged); err != nil {
			return nil, err
		}
		if p.KeptIdentity != nil && *p.KeptIdentity == Source {
			if err := db.LinkCustomer(ctx, tx, p.sourceIdentity.ID, r.TargetID); err != nil {
				return nil, err
			}
		}
		kept := make(map[string]string, len(p.Fields))
		for _, f := range p.Fields {
			kept[f.Field] = string(f.KeptFrom)
		}
		rec := &db.Merge{SourceID: r.SourceID, TargetID: r.TargetID, Kept: kept, IdentityMoved: p.KeptIdentity != nil && *p.KeptIdentity == Source,
			MergeMoves: m.Moves, MergedBy: r.By}
		if p.GiveUpIdentity != nil {
			given := string(*p.GiveUpIdentity)
			rec.IdentityGivenUp = &given
		}
		if err := db.CreateMerge(ctx, tx, rec); err != nil {
			return nil, err
		}
		m.ID, m.Record = rec.ID, rec
		return m, nil
	})
}

// checkMergeArgs refuses what needs no row to refuse.
func checkMergeArgs(r MergeRequest) error {
	if r.SourceID == r.TargetID {
		return errcode.Invalid("target_id", "A customer cannot be merged with itself")
	}
	for field, side := range r.Overrides {
		if side != Source && side != Target {
			return errcode.Invalid("overrides."+field, "choose SOURCE or TARGET")
		}
	}
	return nil
}

// plan decides a merge of the customers (by id, as read or locked): it
// refuses what may not be merged and chooses each field's value. For a
// preview, an identity conflict is shown rather than refused.
func (s *Service) plan(ctx context.Context, q sqlx.QueryerContext, customers map[string]*db.Customer, r MergeRequest, preview bool) (*MergePlan, error) {
	src, tgt := customers[r.SourceID], customers[r.TargetID]
	for _, c := range []struct {
		field, id string
		row       *db.Customer
	}{{"source_id", r.SourceID, src}, {"target_id", r.TargetID, tgt}} {
		if c.row == nil {
			return nil, &errcode.Error{Code: errcode.NotFound, Field: c.field, Message: "Customer with id: " + c.id + " was not found"}
		}
		if c.row.DeletedAt != nil {
			return nil, &errcode.Error{Code: errcode.NotAllowed, Field: c.field,
				Message: "Customer with id: " + c.id + " is deleted; only living customers can be merged"}
		}
	}
	for _, id := range []string{r.SourceID, r.TargetID} {
		open, err := db.OpenAccountDeletion(ctx, q, id)
		if err != nil {
			return nil, err
		}
		if open != nil {
			return nil, errcode.New(errcode.Conflict, "Customer with id: %s asked to delete its account (%s); anonymize it or wait until the request is canceled", id, open.Status)
		}
	}
	identities, err := db.IdentitiesByCustomerIDs(ctx, q, []string{r.SourceID, r.TargetID})
	if err != nil {
		return nil, err
	}
	p := &MergePlan{SourceID: r.SourceID, TargetID: r.TargetID, sourceIdentity: identities[r.SourceID], targetIdentity: identities[r.TargetID]}
	p.IdentityConflict = p.sourceIdentity != nil && p.targetIdentity != nil
	if g := r.GiveUpIdentity; g != nil {
		if *g != Source && *g != Target {
			return nil, errcode.Invalid("give_up_identity", "choose SOURCE or TARGET")
		}
		if (*g == Source && p.sourceIdentity == nil) || (*g == Target && p.targetIdentity == nil) {
			return nil, errcode.Invalid("give_up_identity", "The %s customer has no login identity to give up", *g)
		}
		p.GiveUpIdentity = g
	}
	if p.IdentityConflict && p.GiveUpIdentity == nil && !preview {
		return nil, errcode.New(errcode.NotAllowed, "Both customers have a login identity (%s and %s), and a customer has one: "+
			"pass give_up_identity: SOURCE or TARGET to unlink one (it can log in and create a new account)",
			p.sourceIdentity.Email, p.targetIdentity.Email)
	}
	// With both identities and no choice (a preview), neither is kept
	// yet.
	g, undecided := p.GiveUpIdentity, p.IdentityConflict && p.GiveUpIdentity == nil
	switch {
	case p.targetIdentity != nil && !given(g, Target) && !undecided:
		p.KeptIdentity = ptr(Target)
	case p.sourceIdentity != nil && !given(g, Source) && !undecided:
		p.KeptIdentity = ptr(Source)
	}
	// Registered when an identity logs in to it, or when either customer
	// was registered without one (an admin's import, say).
	p.HasAccount = p.KeptIdentity != nil || undecided ||
		(tgt.HasAccount && p.targetIdentity == nil) || (src.HasAccount && p.sourceIdentity == nil)

	values := func(c *db.Customer) []any {
		return []any{c.Email, c.FirstName, c.LastName, c.Phone, c.CompanyName, c.Metadata}
	}
	sv, tv := values(src), values(tgt)
	kept := make([]any, len(MergeFields))
	for i, name := range MergeFields {
		f := MergeField{Field: name, Source: text(sv[i]), Target: text(tv[i])}
		f.Conflict = f.Source != nil && f.Target != nil && !reflect.DeepEqual(sv[i], tv[i])
		switch {
		case name == "email" && p.KeptIdentity != nil && *p.KeptIdentity == Source:
			// The customer logs in with the source's identity: its email
			// is the one the account is known by.
			f.KeptFrom = Source
		case f.Target == nil && f.Source != nil:
			f.KeptFrom = Source
		default:
			f.KeptFrom = Target
		}
		if side, ok := r.Overrides[name]; ok {
			f.KeptFrom = side
		}
		if f.KeptFrom == Source {
			f.Kept, kept[i] = f.Source, sv[i]
		} else {
			f.Kept, kept[i] = f.Target, tv[i]
		}
		p.Fields = append(p.Fields, f)
	}
	// A chosen email must be the login's: Medusa gives a registered
	// customer its identity's email, and the person logs in with it.
	if side, ok := r.Overrides["email"]; ok && p.KeptIdentity != nil {
		login := p.targetIdentity
		if *p.KeptIdentity == Source {
			login = p.sourceIdentity
		}
		if email := kept[0].(string); email != login.Email {
			return nil, errcode.Invalid("overrides.email", "The merged customer logs in as %s; the %s's email %s cannot be its email",
				login.Email, side, email)
		}
	}
	p.merged = db.MergedFields{
		Email:       kept[0].(string),
		FirstName:   kept[1].(*string),
		LastName:    kept[2].(*string),
		Phone:       kept[3].(*string),
		CompanyName: kept[4].(*string),
		Metadata:    kept[5].(db.JSONObject),
		HasAccount:  p.HasAccount,
	}
	return p, nil
}

func given(s *Side, side Side) bool { return s != nil && *s == side }

func ptr[T any](v T) *T { return &v }

// text is a field's value as a preview shows it: nil when empty, metadata
// as JSON.
func text(v any) *string {
	switch v := v.(type) {
	case string:
		return &v
	case *string:
		return v
	case db.JSONObject:
		if len(v) == 0 {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		s := string(b)
		return &s
	}
	return nil
}
