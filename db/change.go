package db

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"customerservice/errcode"
)

// Change is one field of a create or update: Set tells whether the client
// sent it, Value is what it sent, a nil Value meaning NULL. An update leaves
// the fields that are not Set as they are.
type Change[T any] struct {
	Set   bool
	Value T
}

// To returns a Change that writes v.
func To[T any](v T) Change[T] { return Change[T]{Set: true, Value: v} }

// Length bounds of text columns, in characters.
const (
	maxText  = 255
	maxPhone = 50
)

// assignments collects the validated columns a write sets.
type assignments struct {
	cols []string
	args []any
	err  error
}

func (a *assignments) set(col string, v any) {
	a.cols = append(a.cols, col)
	a.args = append(a.args, v)
}

// text sets col to a cleaned text value (see cleanText): trimmed, composed,
// at most max characters, without control or format characters; blank is
// NULL.
func (a *assignments) text(col, field string, c Change[*string], max int) {
	if !c.Set || a.err != nil {
		return
	}
	v, err := cleanText(field, c.Value, max)
	if err != nil {
		a.err = err
		return
	}
	a.set(col, v)
}

func (a *assignments) json(col string, c Change[JSONObject]) {
	if c.Set && a.err == nil {
		a.set(col, c.Value)
	}
}

// insert returns an INSERT of the collected columns into table, aliased as
// alias for the RETURNING list.
func (a *assignments) insert(table, alias, returning string) string {
	ph := make([]string, len(a.cols))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	return fmt.Sprintf("INSERT INTO %s AS %s (%s) VALUES (%s) RETURNING %s",
		table, alias, strings.Join(a.cols, ", "), strings.Join(ph, ", "), returning)
}

// update returns an UPDATE of the collected columns, and updated_at, of the
// rows of table (aliased as alias) that where selects; where uses ? for the
// extra args, which follow the columns'.
func (a *assignments) update(table, alias, where, returning string, whereArgs ...any) (string, []any) {
	sets := make([]string, 0, len(a.cols)+1)
	for i, c := range a.cols {
		sets = append(sets, fmt.Sprintf("%s = $%d", c, i+1))
	}
	sets = append(sets, "updated_at = now()")
	n := len(a.cols)
	for strings.Contains(where, "?") {
		n++
		where = strings.Replace(where, "?", fmt.Sprintf("$%d", n), 1)
	}
	query := fmt.Sprintf("UPDATE %s AS %s SET %s WHERE %s RETURNING %s", table, alias, strings.Join(sets, ", "), where, returning)
	return query, append(append([]any{}, a.args...), whereArgs...)
}

// cleanText trims s, composes it (NFC) and checks its length and
// characters; blank is nil.
//
// Characters that change how the text around them is shown are refused:
// controls, and format characters such as U+202E RIGHT-TO-LEFT OVERRIDE,
// which makes a name read backwards in an admin's list or an email, or
// U+200B ZERO WIDTH SPACE, which makes two names that look alike differ.
// ZWNJ and ZWJ stay: Persian and Indic scripts and emoji sequences need them.
func cleanText(field string, s *string, max int) (*string, error) {
	if s == nil {
		return nil, nil
	}
	v := strings.TrimSpace(*s)
	if v == "" {
		return nil, nil
	}
	if !utf8.ValidString(v) {
		return nil, errcode.Invalid(field, "%s is not valid UTF-8", field)
	}
	// A decomposed é is two characters and a composed one one: the limit
	// counts them composed, as they are stored.
	v = norm.NFC.String(v)
	if n := utf8.RuneCountInString(v); n > max {
		return nil, errcode.Invalid(field, "%s must be at most %d characters, got %d", field, max, n)
	}
	for _, r := range v {
		switch {
		case unicode.IsControl(r):
			return nil, errcode.Invalid(field, "%s must not contain control characters", field)
		case unicode.Is(unicode.Bidi_Control, r):
			return nil, errcode.Invalid(field, "%s must not contain bidirectional control characters such as %U, which reorder the text shown around them", field, r)
		case unicode.Is(unicode.Cf, r) && r != zwnj && r != zwj:
			return nil, errcode.Invalid(field, "%s must not contain invisible format characters such as %U", field, r)
		}
	}
	return &v, nil
}
