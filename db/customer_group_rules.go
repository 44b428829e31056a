package db

// Rule-based customer groups (segments): the rule language, its compiler to
// SQL, and the statements that save, preview and refresh rule groups.
//
// A rule compiles to a boolean SQL expression over the customer row c whose
// every value is read from one parameter, $1, a jsonb array: ($1->>3) is
// the fourth value. The expression is made of the fixed fragments below and
// the columns of ruleFields, never of text from the input, so a value can
// only ever be compared, whatever it holds. The same text and parameters
// serve the preview (from Go) and, stored on the group row, the triggers of
// migration 0021, which run it with EXECUTE ... USING: PL/pgSQL cannot bind
// a varying number of parameters, and one array of them needs none.

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

// Bounds of a rule tree: conditions in all, and levels of rule objects.
const (
	MaxRuleConditions = 50
	MaxRuleDepth      = 5
	// MaxRuleValues bounds the list of an IN or NOT_IN.
	MaxRuleValues = 100
	// MaxRuleDays bounds WITHIN_LAST and OLDER_THAN (about 100 years).
	MaxRuleDays = 36500
)

// GroupRule is a node of a rule tree: exactly one of All (every rule
// holds), Any (one holds), Not (the rule does not hold) and Condition.
// Its JSON is the API's input shape, which CustomerGroup.rules gives back.
type GroupRule struct {
	All       []*GroupRule   `json:"all,omitempty"`
	Any       []*GroupRule   `json:"any,omitempty"`
	Not       *GroupRule     `json:"not,omitempty"`
	Condition *RuleCondition `json:"condition,omitempty"`
}

// RuleCondition compares one field of a customer with a value. Only the
// value the operator takes is set: String for EQ, NEQ, CONTAINS and
// STARTS_WITH of strings (and EQ, NEQ of GROUP), Strings for IN and
// NOT_IN, Int and Ints likewise for numbers, Boolean for HAS_ACCOUNT,
// Time for GT, GTE, LT, LTE of times, Days for WITHIN_LAST and
// OLDER_THAN, none for IS_SET and IS_NULL.
type RuleCondition struct {
	Field        RuleField  `json:"field"`
	Op           RuleOp     `json:"op"`
	Key          *string    `json:"key,omitempty"`
	CurrencyCode *string    `json:"currency_code,omitempty"`
	String       *string    `json:"string,omitempty"`
	Strings      []string   `json:"strings,omitempty"`
	Int          *int64     `json:"int,omitempty"`
	Ints         []int64    `json:"ints,omitempty"`
	Boolean      *bool      `json:"boolean,omitempty"`
	Time         *time.Time `json:"time,omitempty"`
	Days         *int       `json:"days,omitempty"`
}

// RuleField is what a condition reads; its values are the API's enum.
type RuleField string

// RuleOp is how a condition compares; its values are the API's enum.
type RuleOp string

// The operators.
const (
	OpEq         RuleOp = "EQ"
	OpNeq        RuleOp = "NEQ"
	OpIn         RuleOp = "IN"
	OpNotIn      RuleOp = "NOT_IN"
	OpContains   RuleOp = "CONTAINS"
	OpStartsWith RuleOp = "STARTS_WITH"
	OpGt         RuleOp = "GT"
	OpGte        RuleOp = "GTE"
	OpLt         RuleOp = "LT"
	OpLte        RuleOp = "LTE"
	OpWithinLast RuleOp = "WITHIN_LAST"
	OpOlderThan  RuleOp = "OLDER_THAN"
	OpIsSet      RuleOp = "IS_SET"
	OpIsNull     RuleOp = "IS_NULL"
)

type ruleKind int

const (
	fieldString ruleKind = iota
	fieldBool
	fieldTime
	fieldInt
	fieldGroup
)

func (k ruleKind) String() string {
	return [...]string{"a string", "a boolean", "a time", "an integer", "a group"}[k]
}

// ruleOps are the operators each kind of field takes.
var ruleOps = map[ruleKind][]RuleOp{
	fieldString: {OpEq, OpNeq, OpIn, OpNotIn, OpContains, OpStartsWith, OpIsSet, OpIsNull},
	fieldBool:   {OpEq, OpNeq},
	fieldTime:   {OpGt, OpGte, OpLt, OpLte, OpWithinLast, OpOlderThan, OpIsSet, OpIsNull},
	fieldInt:    {OpEq, OpNeq, OpIn, OpNotIn, OpGt, OpGte, OpLt, OpLte},
	fieldGroup:  {OpEq, OpNeq, OpIn, OpNotIn},
}

// The tables a rule reads, named as migration 0021's triggers name them.
const (
	readsCustomer   = "customer"
	readsAddress    = "address"
	readsStats      = "stats"
	readsSpend      = "spend"
	readsMembership = "membership"
)

type ruleField struct {
	kind   ruleKind
	reads  string
	column string // qualified by the alias of its table in the fragments below
	// nullable columns are wrapped so that a condition is never NULL, and
	// not is the complement of a rule.
	nullable bool
}

// ruleFields is the whitelist of what rules read: a field's column comes
// from here, never from the input.
var ruleFields = map[RuleField]ruleField{
	"EMAIL":                {fieldString, readsCustomer, "c.email", false},
	"FIRST_NAME":           {fieldString, readsCustomer, "c.first_name", true},
	"LAST_NAME":            {fieldString, readsCustomer, "c.last_name", true},
	"COMPANY_NAME":         {fieldString, readsCustomer, "c.company_name", true},
	"PHONE":                {fieldString, readsCustomer, "c.phone", true},
	"METADATA":             {fieldString, readsCustomer, "", true}, // c.metadata ->> key
	"HAS_ACCOUNT":          {fieldBool, readsCustomer, "c.has_account", false},
	"CREATED_AT":           {fieldTime, readsCustomer, "c.created_at", false},
	"ADDRESS_COUNTRY_CODE": {fieldString, readsAddress, "a.country_code", true},
	"ADDRESS_CITY":         {fieldString, readsAddress, "a.city", true},
	"ADDRESS_PROVINCE":     {fieldString, readsAddress, "a.province", true},
	"ADDRESS_POSTAL_CODE":  {fieldString, readsAddress, "a.postal_code", true},
	"ORDER_COUNT":          {fieldInt, readsStats, "s.order_count", false},
	"FIRST_ORDER_AT":       {fieldTime, readsStats, "s.first_order_at", true},
	"LAST_ORDER_AT":        {fieldTime, readsStats, "s.last_order_at", true},
	"AMOUNT_SPENT":         {fieldInt, readsSpend, "p.amount_spent", false},
	"GROUP":                {fieldGroup, readsMembership, "m.customer_group_id", false},
}

// CompiledRules is a rule tree compiled: Cond is a boolean SQL expression
// over the customer c that reads its values from $1, Params.
type CompiledRules struct {
	Tree   JSONObject
	Cond   string
	Params []any
	// Reads are the tables the rules read (migration 0021's sources).
	Reads []string
	// Groups are the static groups the rules name.
	Groups []string
	// Relative is whether a condition is relative to now (WITHIN_LAST,
	// OLDER_THAN), so that time alone changes what the rules match.
	Relative bool
}

// ParamsJSON is Params as the jsonb array the statements take.
func (c *CompiledRules) ParamsJSON() (string, error) {
	params := c.Params
	if params == nil {
		params = []any{}
	}
	b, err := json.Marshal(params)
	if err != nil {
		return "", fmt.Errorf("rule parameters: %w", err)
	}
	return string(b), nil
}

type ruleCompiler struct {
	CompiledRules
	conditions int
	reads      map[string]bool
}

// CompileGroupRules checks a rule tree and compiles it. field names the
// argument, for errors ("input.rules"). Returns INVALID_DATA naming the
// path of the first fault: a node with not exactly one of all, any, not,
// condition; an operator the field does not take; a missing or extra
// value; more than MaxRuleConditions conditions or MaxRuleDepth levels.
func CompileGroupRules(field string, r *GroupRule) (*CompiledRules, error) {
	if r == nil {
		return nil, errcode.Invalid(field, "rules are required")
	}
	c := &ruleCompiler{reads: map[string]bool{readsCustomer: true}}
	cond, err := c.node(field, r, 1)
	if err != nil {
		return nil, err
	}
	c.Cond = cond
	for _, s := range []string{readsCustomer, readsAddress, readsStats, readsSpend, readsMembership} {
		if c.reads[s] {
			c.Reads = append(c.Reads, s)
		}
	}
	slices.Sort(c.Groups)
	c.Groups = slices.Compact(c.Groups)
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("rule tree: %w", err)
	}
	if err := c.Tree.Scan(b); err != nil {
		return nil, err
	}
	return &c.CompiledRules, nil
}

func (c *ruleCompiler) node(path string, r *GroupRule, depth int) (string, error) {
	if r == nil {
		return "", errcode.Invalid(path, "a rule is required")
	}
	if depth > MaxRuleDepth {
		return "", errcode.Invalid(path, "rules nest at most %d levels deep", MaxRuleDepth)
	}
	var set []string
	if r.All != nil {
		set = append(set, "all")
	}
	if r.Any != nil {
		set = append(set, "any")
	}
	if r.Not != nil {
		set = append(set, "not")
	}
	if r.Condition != nil {
		set = append(set, "condition")
	}
	if len(set) != 1 {
		got := "none"
		if len(set) > 0 {
			got = strings.Join(set, ", ")
		}
		return "", errcode.Invalid(path, "a rule has exactly one of all, any, not, condition; got %s", got)
	}
	switch {
	case r.All != nil:
		return c.list(path+".all", r.All, " AND ", depth)
	case r.Any != nil:
		return c.list(path+".any", r.Any, " OR ", depth)
	case r.Not != nil:
		inner, err := c.node(path+".not", r.Not, depth+1)
		if err != nil {
			return "", err
		}
		return "NOT " + inner, nil
	}
	c.conditions++
	if c.conditions > MaxRuleConditions {
		return "", errcode.Invalid(path, "rules hold at most %d conditions", MaxRuleConditions)
	}
	return c.condition(path+".condition", r.Condition)
}

func (c *ruleCompiler) list(path string, rules []*GroupRule, join string, depth int) (string, error) {
	if len(rules) == 0 {
		return "", errcode.Invalid(path, "list at least one rule")
	}
	parts := make([]string, len(rules))
	for i, r := range rules {
		p, err := c.node(fmt.Sprintf("%s[%d]", path, i), r, depth+1)
		if err != nil {
			return "", err
		}
		parts[i] = p
	}
	return "(" + strings.Join(parts, join) + ")", nil
}

// param adds a value and returns the SQL that reads it as text; array
// values are read with paramArray.
func (c *ruleCompiler) param(v any) string {
	c.Params = append(c.Params, v)
	return fmt.Sprintf("($1::jsonb->>%d)", len(c.Params)-1)
}

// paramArray adds a list and returns SQL for the set of its elements, as
// text.
func (c *ruleCompiler) paramArray(v any) string {
	c.Params = append(c.Params, v)
	return fmt.Sprintf("(SELECT jsonb_array_elements_text($1::jsonb->%d))", len(c.Params)-1)
}

var currencyPattern = regexp.MustCompile(`^[a-z]{3}$`)

func (c *ruleCompiler) condition(path string, rc *RuleCondition) (string, error) {
	f, ok := ruleFields[rc.Field]
	if !ok {
		return "", errcode.Invalid(path+".field", "unknown field %q", rc.Field)
	}
	if !slices.Contains(ruleOps[f.kind], rc.Op) {
		return "", errcode.Invalid(path+".op", "%s is %s and does not take %s; it takes %s",
			rc.Field, f.kind, rc.Op, joinOps(ruleOps[f.kind]))
	}
	// Which value the operator takes, and that it is the only one given.
	want := valueSlot(f.kind, rc.Op)
	for _, s := range givenSlots(rc) {
		if s != want {
			if want == "" {
				return "", errcode.Invalid(path+"."+s, "%s %s takes no value", rc.Field, rc.Op)
			}
			return "", errcode.Invalid(path+"."+s, "%s %s takes %s, not %s", rc.Field, rc.Op, want, s)
		}
	}
	if want != "" && !slices.Contains(givenSlots(rc), want) {
		return "", errcode.Invalid(path+"."+want, "%s %s needs %s", rc.Field, rc.Op, want)
	}
	if (rc.Field == "METADATA") != (rc.Key != nil) {
		if rc.Key == nil {
			return "", errcode.Invalid(path+".key", "METADATA needs the key to read")
		}
		return "", errcode.Invalid(path+".key", "only METADATA takes a key")
	}
	if (rc.Field == "AMOUNT_SPENT") != (rc.CurrencyCode != nil) {
		if rc.CurrencyCode == nil {
			return "", errcode.Invalid(path+".currency_code", "AMOUNT_SPENT needs a currency_code")
		}
		return "", errcode.Invalid(path+".currency_code", "only AMOUNT_SPENT takes a currency_code")
	}
	c.reads[f.reads] = true

	col := f.column
	if rc.Field == "METADATA" {
		key, err := ruleString(path+".key", *rc.Key)
		if err != nil {
			return "", err
		}
		col = "(c.metadata ->> " + c.param(key) + ")"
	}
	negate := rc.Op == OpNeq || rc.Op == OpNotIn || rc.Op == OpIsNull
	pred, err := c.predicate(path, f, col, rc)
	if err != nil {
		return "", err
	}
	if f.nullable {
		pred = "coalesce(" + pred + ", false)"
	}

	switch f.reads {
	case readsCustomer:
		if negate {
			return "(NOT " + pred + ")", nil
		}
		return pred, nil
	case readsAddress:
		// Any living address that matches.
		if negate {
			pred = "NOT " + pred
		}
		return "EXISTS (SELECT 1 FROM customer_address a WHERE a.customer_id = c.id AND a.deleted_at IS NULL AND " + pred + ")", nil
	case readsStats:
		// Every customer has its row (migration 0018).
		return not(negate) + "EXISTS (SELECT 1 FROM customer_stats s WHERE s.customer_id = c.id AND " + pred + ")", nil
	case readsSpend:
		cur := strings.ToLower(strings.TrimSpace(*rc.CurrencyCode))
		if !currencyPattern.MatchString(cur) {
			return "", errcode.Invalid(path+".currency_code", "%q is not an ISO 4217 currency code", *rc.CurrencyCode)
		}
		if negate {
			pred = "NOT " + pred
		}
		spend := "SELECT 1 FROM customer_spend p WHERE p.customer_id = c.id AND p.currency_code = " + c.param(cur)
		// A customer who never spent in the currency has spent 0: when 0
		// matches, the rule holds unless a row says otherwise.
		if amountMatches(0, rc) != negate {
			return "NOT EXISTS (" + spend + " AND NOT " + pred + ")", nil
		}
		return "EXISTS (" + spend + " AND " + pred + ")", nil
	case readsMembership:
		return not(negate) + "EXISTS (SELECT 1 FROM customer_group_customer m WHERE m.customer_id = c.id AND " + pred + ")", nil
	}
	return "", fmt.Errorf("rule field %s reads %s", rc.Field, f.reads)
}

func not(negate bool) string {
	if negate {
		return "NOT "
	}
	return ""
}

// predicate is the condition's comparison in its positive form (EQ for
// NEQ, IN for NOT_IN, IS_SET for IS_NULL), over col.
func (c *ruleCompiler) predicate(path string, f ruleField, col string, rc *RuleCondition) (string, error) {
	switch f.kind {
	case fieldString, fieldGroup:
		norm := func(s string) string { return "lower(" + s + ")" }
		if f.kind == fieldGroup {
			norm = func(s string) string { return s }
		}
		switch rc.Op {
		case OpEq, OpNeq:
			v, err := c.ruleValue(path+".string", f, *rc.String)
			if err != nil {
				return "", err
			}
			return norm(col) + " = " + norm(c.param(v)), nil
		case OpIn, OpNotIn:
			vs, err := c.ruleValues(path+".strings", f, rc.Strings)
			if err != nil {
				return "", err
			}
			set := c.paramArray(vs)
			if f.kind == fieldGroup {
				return col + " IN " + set, nil
			}
			return "lower(" + col + ") IN (SELECT lower(v) FROM jsonb_array_elements_text($1::jsonb->" +
				fmt.Sprint(len(c.Params)-1) + ") v)", nil
		case OpContains, OpStartsWith:
			v, err := ruleString(path+".string", *rc.String)
			if err != nil {
				return "", err
			}
			// strpos and starts_with, not LIKE: a value's % and _ are
			// characters like any other.
			if rc.Op == OpContains {
				return "strpos(lower(" + col + "), lower(" + c.param(v) + ")) > 0", nil
			}
			return "starts_with(lower(" + col + "), lower(" + c.param(v) + "))", nil
		case OpIsSet, OpIsNull:
			return col + " IS NOT NULL", nil
		}
	case fieldBool:
		return col + " = " + c.param(*rc.Boolean) + "::boolean", nil
	case fieldTime:
		switch rc.Op {
		case OpGt, OpGte, OpLt, OpLte:
			return col + " " + comparison(rc.Op) + " " + c.param(rc.Time.UTC().Format(time.RFC3339Nano)) + "::timestamptz", nil
		case OpWithinLast, OpOlderThan:
			if *rc.Days < 1 || *rc.Days > MaxRuleDays {
				return "", errcode.Invalid(path+".days", "days must be between 1 and %d, got %d", MaxRuleDays, *rc.Days)
			}
			c.Relative = true
			since := "now() - make_interval(days => " + c.param(*rc.Days) + "::int)"
			if rc.Op == OpWithinLast {
				return col + " > " + since, nil
			}
			return col + " <= " + since, nil
		case OpIsSet, OpIsNull:
			return col + " IS NOT NULL", nil
		}
	case fieldInt:
		switch rc.Op {
		case OpIn, OpNotIn:
			if len(rc.Ints) == 0 || len(rc.Ints) > MaxRuleValues {
				return "", errcode.Invalid(path+".ints", "list 1 to %d values, got %d", MaxRuleValues, len(rc.Ints))
			}
			return col + " IN (SELECT v::bigint FROM jsonb_array_elements_text($1::jsonb->" + c.paramIndex(rc.Ints) + ") v)", nil
		default:
			return col + " " + comparison(rc.Op) + " " + c.param(*rc.Int) + "::bigint", nil
		}
	}
	return "", fmt.Errorf("rule operator %s of %s", rc.Op, rc.Field)
}

func (c *ruleCompiler) paramIndex(v any) string {
	c.Params = append(c.Params, v)
	return fmt.Sprint(len(c.Params) - 1)
}

// comparison is the SQL operator of EQ (and NEQ, negated), GT, GTE, LT
// and LTE.
func comparison(op RuleOp) string {
	switch op {
	case OpGt:
		return ">"
	case OpGte:
		return ">="
	case OpLt:
		return "<"
	case OpLte:
		return "<="
	}
	return "="
}

// amountMatches tells whether amount satisfies the condition's positive
// form.
func amountMatches(amount int64, rc *RuleCondition) bool {
	switch rc.Op {
	case OpIn, OpNotIn:
		return slices.Contains(rc.Ints, amount)
	case OpGt:
		return amount > *rc.Int
	case OpGte:
		return amount >= *rc.Int
	case OpLt:
		return amount < *rc.Int
	case OpLte:
		return amount <= *rc.Int
	}
	return amount == *rc.Int
}

func (c *ruleCompiler) ruleValue(path string, f ruleField, v string) (string, error) {
	s, err := ruleString(path, v)
	if err != nil {
		return "", err
	}
	if f.kind == fieldGroup {
		c.Groups = append(c.Groups, s)
	}
	return s, nil
}

func (c *ruleCompiler) ruleValues(path string, f ruleField, vs []string) ([]string, error) {
	if len(vs) == 0 || len(vs) > MaxRuleValues {
		return nil, errcode.Invalid(path, "list 1 to %d values, got %d", MaxRuleValues, len(vs))
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		s, err := c.ruleValue(fmt.Sprintf("%s[%d]", path, i), f, v)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// ruleString checks a string value: trimmed, composed, not blank, at most
// maxText characters, no control characters (cleanText's rules).
func ruleString(path, v string) (string, error) {
	s, err := cleanText(path, &v, maxText)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "", errcode.Invalid(path, "a value must not be blank")
	}
	if !utf8.ValidString(*s) {
		return "", errcode.Invalid(path, "a value must be UTF-8 text")
	}
	return *s, nil
}

// valueSlot names the value an operator of a kind of field takes; "" for
// none.
func valueSlot(k ruleKind, op RuleOp) string {
	switch op {
	case OpIsSet, OpIsNull:
		return ""
	case OpWithinLast, OpOlderThan:
		return "days"
	}
	switch k {
	case fieldString, fieldGroup:
		if op == OpIn || op == OpNotIn {
			return "strings"
		}
		return "string"
	case fieldBool:
		return "boolean"
	case fieldTime:
		return "time"
	}
	if op == OpIn || op == OpNotIn {
		return "ints"
	}
	return "int"
}

// givenSlots names the values a condition gives.
func givenSlots(rc *RuleCondition) []string {
	var out []string
	if rc.String != nil {
		out = append(out, "string")
	}
	if rc.Strings != nil {
		out = append(out, "strings")
	}
	if rc.Int != nil {
		out = append(out, "int")
	}
	if rc.Ints != nil {
		out = append(out, "ints")
	}
	if rc.Boolean != nil {
		out = append(out, "boolean")
	}
	if rc.Time != nil {
		out = append(out, "time")
	}
	if rc.Days != nil {
		out = append(out, "days")
	}
	return out
}

func joinOps(ops []RuleOp) string {
	s := make([]string, len(ops))
	for i, op := range ops {
		s[i] = string(op)
	}
	return strings.Join(s, ", ")
}

// rulesLock takes the advisory lock of migration 0021 exclusively: no
// re-evaluation runs while a group is materialized, nor starts before its
// transaction ends. It is taken before any group row is locked.
func rulesLock(ctx context.Context, tx Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(customer_group_rules_lock_key())`); err != nil {
		return fmt.Errorf("lock group rules: %w", err)
	}
	return nil
}

// CheckRuleGroups checks the groups rules name: each exists, is not
// deleted, has no rules of its own (rules name static groups only, so that
// one group's membership never waits on another's rules) and is not self.
// Returns INVALID_DATA naming field otherwise.
func CheckRuleGroups(ctx context.Context, q sqlx.QueryerContext, field string, groups []string, self string) error {
	if len(groups) == 0 {
		return nil
	}
	const query = `SELECT g.id FROM customer_group g WHERE g.id = ANY($1) AND g.deleted_at IS NULL AND g.rules IS NULL`
	var static []string
	if err := sqlx.SelectContext(ctx, q, &static, query, pq.Array(groups)); err != nil {
		return fmt.Errorf("check rule groups: %w", err)
	}
	var bad []string
	for _, g := range groups {
		if g == self || !slices.Contains(static, g) {
			bad = append(bad, g)
		}
	}
	if len(bad) > 0 {
		return errcode.Invalid(field, "rules name only static groups that exist, other than the group itself: %s is not one", listIDs(bad))
	}
	return nil
}

// SetGroupRules gives a group rules, or takes them away (r nil), and
// materializes its membership: the customers the rules match become its
// members and the others stop being members, in this transaction. Without
// rules the members stay as they are, and admins edit them again.
// Returns INVALID_DATA for bad rules, NOT_FOUND for an unknown or deleted
// group and NOT_ALLOWED for a group that other groups' rules name.
func SetGroupRules(ctx context.Context, tx Tx, id string, r *CompiledRules) error {
	if err := rulesLock(ctx, tx); err != nil {
		return err
	}
	if r == nil {
		const query = `UPDATE customer_group SET rules = NULL, rule_sql = NULL, rule_params = NULL, rule_reads = NULL,
				rule_groups = NULL, rules_relative = false, rules_refreshed_at = NULL, updated_at = now()
			WHERE id = $1 AND deleted_at IS NULL AND rules IS NOT NULL`
		_, err := tx.ExecContext(ctx, query, id)
		if err != nil {
			return fmt.Errorf("clear rules of %s: %w", id, err)
		}
		return nil
	}
	if err := CheckRuleGroups(ctx, tx, "input.rules", r.Groups, id); err != nil {
		return err
	}
	if err := groupNotNamed(ctx, tx, id); err != nil {
		return err
	}
	params, err := r.ParamsJSON()
	if err != nil {
		return err
	}
	const query = `UPDATE customer_group SET rules = $2, rule_sql = $3, rule_params = $4, rule_reads = $5,
			rule_groups = $6, rules_relative = $7, updated_at = now()
		WHERE id = $1 AND deleted_at IS NULL RETURNING id`
	var updated string
	if err := sqlx.GetContext(ctx, tx, &updated, query, id, r.Tree, r.Cond, params, pq.Array(r.Reads),
		pq.Array(r.Groups), r.Relative); err != nil {
		return notFound(err, "Customer group", id)
	}
	if _, err := tx.ExecContext(ctx, `SELECT customer_group_rules_materialize($1)`, id); err != nil {
		return fmt.Errorf("materialize rules of %s: %w", id, err)
	}
	return nil
}

// CreateRuleGroup adds a group with rules, in one insert (one
// customer_group.created event, with the rules), and materializes its
// members. Returns what CreateGroup and SetGroupRules do.
func CreateRuleGroup(ctx context.Context, tx Tx, f GroupFields, r *CompiledRules, createdBy *string) (*CustomerGroup, error) {
	if err := rulesLock(ctx, tx); err != nil {
		return nil, err
	}
	if err := CheckRuleGroups(ctx, tx, "input.rules", r.Groups, ""); err != nil {
		return nil, err
	}
	a, err := f.assign()
	if err != nil {
		return nil, err
	}
	params, err := r.ParamsJSON()
	if err != nil {
		return nil, err
	}
	id := NewID(PrefixGroup)
	a.set("id", id)
	a.set("created_by", createdBy)
	a.set("rules", r.Tree)
	a.set("rule_sql", r.Cond)
	a.set("rule_params", params)
	a.set("rule_reads", pq.Array(r.Reads))
	a.set("rule_groups", pq.Array(r.Groups))
	a.set("rules_relative", r.Relative)
	if _, err := tx.ExecContext(ctx, a.insert("customer_group", "g", "g.id"), a.args...); err != nil {
		return nil, groupWriteError(err, f.Name)
	}
	if _, err := tx.ExecContext(ctx, `SELECT customer_group_rules_materialize($1)`, id); err != nil {
		return nil, fmt.Errorf("materialize rules of %s: %w", id, err)
	}
	return GroupByID(ctx, tx, id)
}

// groupNotNamed refuses a change to a group that other groups' rules name
// (giving it rules, deleting it): NOT_ALLOWED, naming them.
func groupNotNamed(ctx context.Context, q sqlx.QueryerContext, id string) error {
	const query = `SELECT g.name FROM customer_group g
		WHERE g.rule_groups @> ARRAY[$1] AND g.deleted_at IS NULL ORDER BY g.name`
	var names []string
	if err := sqlx.SelectContext(ctx, q, &names, query, id); err != nil {
		return fmt.Errorf("groups naming %s: %w", id, err)
	}
	if len(names) > 0 {
		return &errcode.Error{Code: errcode.NotAllowed,
			Message: fmt.Sprintf("The rules of the groups %s name this group; change them first", strings.Join(names, ", "))}
	}
	return nil
}

// RefreshGroupRules materializes again the rule groups whose rules are
// relative to now and were last materialized more than every ago, one
// group a transaction (each holds the advisory lock for its own time
// only). It returns how many it refreshed. Several servers may run it: the
// lock makes them take turns, and a group one refreshed is not due for the
// others.
func RefreshGroupRules(ctx context.Context, pool *sqlx.DB, every time.Duration) (int, error) {
	done := []string{} // each group once a call, however short every is
	for {
		id, err := InTx(ctx, pool, func(tx Tx) (string, error) {
			if err := rulesLock(ctx, tx); err != nil {
				return "", err
			}
			const due = `SELECT g.id FROM customer_group g
				WHERE g.rule_sql IS NOT NULL AND g.deleted_at IS NULL AND g.rules_relative AND NOT g.id = ANY($2)
				AND (g.rules_refreshed_at IS NULL OR g.rules_refreshed_at <= now() - $1 * interval '1 microsecond')
				ORDER BY g.rules_refreshed_at NULLS FIRST, g.id LIMIT 1`
			var ids []string
			if err := sqlx.SelectContext(ctx, tx, &ids, due, every.Microseconds(), pq.Array(done)); err != nil {
				return "", fmt.Errorf("due rule groups: %w", err)
			}
			if len(ids) == 0 {
				return "", nil
			}
			if _, err := tx.ExecContext(ctx, `SELECT customer_group_rules_materialize($1)`, ids[0]); err != nil {
				return "", fmt.Errorf("refresh rules of %s: %w", ids[0], err)
			}
			return ids[0], nil
		})
		if err != nil || id == "" {
			return len(done), err
		}
		done = append(done, id)
	}
}

// GroupKind tells static groups from rule-based ones.
type GroupKind string

// The kinds of groups.
const (
	GroupStatic GroupKind = "STATIC"
	GroupRules  GroupKind = "RULES"
)

// RuleCustomerFilter is a customer list of those the rules match, for a
// preview.
type RuleCustomerFilter struct {
	Rules *CompiledRules
}

func (f RuleCustomerFilter) where() (string, []any, error) {
	params, err := f.Rules.ParamsJSON()
	if err != nil {
		return "", nil, err
	}
	where := "c.deleted_at IS NULL AND (" + f.Rules.Cond + ")"
	if len(f.Rules.Params) == 0 {
		// Rules of IS_SET and IS_NULL take no values; the statements bind
		// $1 all the same, and PostgreSQL wants a type for it.
		where += " AND $1::jsonb IS NOT NULL"
	}
	return where, []any{params}, nil
}

// ListCustomersByRules returns a page of the living customers the rules
// match, with the columns cols.
func ListCustomersByRules(ctx context.Context, q sqlx.QueryerContext, f RuleCustomerFilter, p Page, cols Columns[Customer]) ([]*Customer, error) {
	where, args, err := f.where()
	if err != nil {
		return nil, err
	}
	query := fmt.Sprintf(`SELECT %s FROM customer c%s WHERE %s ORDER BY %s LIMIT $2`,
		customerTable.list(cols), p.Sort.join(), where, p.Sort.orderBy("c"))
	args = append(args, p.Limit)
	// A first page is a statement of its own, as in listQuery.sql.
	if p.Offset > 0 {
		query += " OFFSET $3"
		args = append(args, p.Offset)
	}
	out, err := selectRows(ctx, q, query, args, customerTable.targets(cols))
	if err != nil {
		return nil, fmt.Errorf("customers by rules: %w", err)
	}
	return out, nil
}

// CountCustomersByRules returns how many living customers the rules match.
func CountCustomersByRules(ctx context.Context, q sqlx.QueryerContext, f RuleCustomerFilter) (int, error) {
	where, args, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int
	if err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM customer c WHERE `+where, args...); err != nil {
		return 0, fmt.Errorf("count customers by rules: %w", err)
	}
	return n, nil
}
