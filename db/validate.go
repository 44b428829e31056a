package db

import (
	"net/mail"
	"strings"

	"github.com/acme/customerservice/errcode"
)

// maxEmail is the longest address SMTP can carry (RFC 5321's path limit).
const maxEmail = 254

// CleanEmail returns email as it is stored, trimmed and lower-cased, or an
// INVALID_DATA error naming field when it is not a plain address
// (local@domain.tld, no display name).
func CleanEmail(field, email string) (string, error) {
	e := NormalizeEmail(email)
	if e == "" {
		return "", errcode.Invalid(field, "email is required")
	}
	if len(e) > maxEmail {
		return "", errcode.Invalid(field, "email must be at most %d characters", maxEmail)
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e {
		return "", errcode.Invalid(field, "%q is not a valid email address", email)
	}
	at := strings.LastIndexByte(e, '@')
	if !validDomain(e[at+1:]) {
		return "", errcode.Invalid(field, "%q is not a valid email address", email)
	}
	return e, nil
}

// validDomain accepts DNS names of two or more labels of letters, digits and
// inner hyphens (and non-ASCII letters, for internationalized domains).
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(labels) < 2 || len(d) > 253 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 127) {
				return false
			}
		}
	}
	return true
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
