package graph

// Rule-based customer groups (segments): the rule input carried to db's
// compiler, the group mutations that save rules, and the preview.

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/db"
	"customerservice/graph/model"
)

// groupRule carries a rule tree to db. An explicit null of all, any, not
// or condition counts as omitted: the compiler names what a node lacks.
func groupRule(in *model.CustomerGroupRule) *db.GroupRule {
	if in == nil {
		return nil
	}
	out := &db.GroupRule{}
	if all, ok := in.All.ValueOK(); ok && all != nil {
		out.All = groupRules(all)
	}
	if anyOf, ok := in.Any.ValueOK(); ok && anyOf != nil {
		out.Any = groupRules(anyOf)
	}
	if not, ok := in.Not.ValueOK(); ok && not != nil {
		out.Not = groupRule(not)
	}
	if c, ok := in.Condition.ValueOK(); ok && c != nil {
		out.Condition = ruleCondition(c)
	}
	return out
}

func groupRules(in []*model.CustomerGroupRule) []*db.GroupRule {
	out := make([]*db.GroupRule, len(in))
	for i, r := range in {
		out[i] = groupRule(r)
	}
	return out
}

func ruleCondition(in *model.CustomerRuleCondition) *db.RuleCondition {
	out := &db.RuleCondition{
		Field:        db.RuleField(in.Field),
		Op:           db.RuleOp(in.Op),
		Key:          value(in.Key),
		CurrencyCode: value(in.CurrencyCode),
		String:       value(in.String),
		Boolean:      value(in.Boolean),
		Time:         value(in.Time),
		Days:         value(in.Days),
	}
	if v, ok := in.Strings.ValueOK(); ok && v != nil {
		out.Strings = v
	}
	if v := value(in.Int); v != nil {
		n := int64(*v)
		out.Int = &n
	}
	if v, ok := in.Ints.ValueOK(); ok && v != nil {
		out.Ints = make([]int64, len(v))
		for i, n := range v {
			out.Ints[i] = int64(n)
		}
	}
	return out
}

// value is an optional input's value, nil when omitted or null.
func value[T any](o graphql.Omittable[*T]) *T {
	v, _ := o.ValueOK()
	return v
}

// compileRules compiles the rules of a group input: nil when the input
// leaves them out or sets them to null (set tells which).
func compileRules(in graphql.Omittable[*model.CustomerGroupRule]) (rules *db.CompiledRules, set bool, err error) {
	r, set := in.ValueOK()
	if !set || r == nil {
		return nil, set, nil
	}
	rules, err = db.CompileGroupRules("input.rules", groupRule(r))
	return rules, true, err
}

// createGroup adds a group, and materializes its members when it has
// rules, in one transaction.
func (r *Resolver) createGroup(ctx context.Context, in model.CustomerGroupInput) (*db.CustomerGroup, error) {
	rules, _, err := compileRules(in.Rules)
	if err != nil {
		return nil, err
	}
	return db.InTx(ctx, r.DB, func(tx db.Tx) (*db.CustomerGroup, error) {
		if rules != nil {
			return db.CreateRuleGroup(ctx, tx, groupFields(in), rules, adminID(ctx))
		}
		return db.CreateGroup(ctx, tx, groupFields(in), adminID(ctx))
	})
}

// updateGroup changes a group; rules, when the input sets them, first:
// their advisory lock comes before the group row's (migration 0021).
func (r *Resolver) updateGroup(ctx context.Context, id string, in model.CustomerGroupInput) (*db.CustomerGroup, error) {
	rules, set, err := compileRules(in.Rules)
	if err != nil {
		return nil, err
	}
	return db.InTx(ctx, r.DB, func(tx db.Tx) (*db.CustomerGroup, error) {
		if set {
			if err := db.SetGroupRules(ctx, tx, id, rules); err != nil {
				return nil, err
			}
		}
		return db.UpdateGroup(ctx, tx, id, groupFields(in))
	})
}

// rulesPreview is the customers rules match, as a list.
func (r *Resolver) rulesPreview(ctx context.Context, in model.CustomerGroupRule, limit, offset *int, order *string) (*model.CustomerList, error) {
	rules, err := db.CompileGroupRules("rules", groupRule(&in))
	if err != nil {
		return nil, err
	}
	page, err := db.NewCustomerPage(intOr(limit, db.DefaultLimit), intOr(offset, 0), stringOr(order, defaultOrder))
	if err != nil {
		return nil, err
	}
	if err := db.CheckRuleGroups(ctx, r.conn(ctx), "rules", rules.Groups, ""); err != nil {
		return nil, err
	}
	return &model.CustomerList{Page: page, Rules: &db.RuleCustomerFilter{Rules: rules}}, nil
}
