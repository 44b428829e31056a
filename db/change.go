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

// cleanPhone is cleanText for phone numbers: digits and the usual
// separators, with at least one digit.
func cleanPhone(field string, s *string) (*string, error) {
	v, err := cleanText(field, s, maxPhone)
	if err != nil || v == nil {
		return v, err
	}
	digits := 0
	for _, r := range *v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +-().#*/x", r):
		default:
			return nil, errcode.Invalid(field, "%s may hold only digits, spaces and + - ( ) . / # * x", field)
		}
	}
	if digits == 0 {
		return nil, errcode.Invalid(field, "%s must contain digits", field)
	}
	return v, nil
}

func (a *assignments) phone(col, field string, c Change[*string]) {
	if !c.Set || a.err != nil {
		return
	}
	v, err := cleanPhone(field, c.Value)
	if err != nil {
		a.err = err
		return
	}
	a.set(col, v)
}

// countries holds the ISO 3166-1 alpha-2 codes, lower case.
var countries = func() map[string]bool {
	const codes = `ad ae af ag ai al am ao aq ar as at au aw ax az
ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz
ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz
de dj dk dm do dz ec ee eg eh er es et fi fj fk fm fo fr
ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy
hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp
ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly
ma mc md me mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz
na nc ne nf ng ni nl no np nr nu nz om
pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw
sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz
tc td tf tg th tj tk tl tm tn to tr tt tv tw tz
ua ug um us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw`
	m := make(map[string]bool, 249)
	for _, c := range strings.Fields(codes) {
		m[c] = true
	}
	return m
}()

func (a *assignments) country(col, field string, c Change[*string]) {
	if !c.Set || a.err != nil {
		return
	}
	v, err := cleanCountry(field, c.Value)
	if err != nil {
		a.err = err
		return
	}
	a.set(col, v)
}

// cleanCountry returns an ISO 3166-1 alpha-2 code in lower case; blank is
// nil.
func cleanCountry(field string, s *string) (*string, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, nil
	}
	code := strings.ToLower(strings.TrimSpace(*s))
	if !countries[code] {
		return nil, errcode.Invalid(field, "%q is not an ISO 3166-1 alpha-2 country code, such as \"us\" or \"de\"", *s)
	}
	return &code, nil
}
