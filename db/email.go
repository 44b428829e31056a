package db

// Email addresses: how they are checked, normalized and shown.

import (
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"customerservice/errcode"
)

// maxEmail is the longest address SMTP can carry (RFC 5321's path limit, in
// octets: the domain is counted in its ASCII form, a local part outside ASCII
// in UTF-8 bytes, as SMTPUTF8 sends it).
const maxEmail = 254

// emailDomains maps and validates the domain of an address with UTS 46's
// Lookup profile (nontransitional: ß and ς stay themselves), as a mail
// client resolving it would. Hyphens in the third and fourth positions of a
// label ("ab--cd.example") are allowed, as browsers allow them: such ASCII
// domains exist and were accepted before; labels starting with "xn--" are
// still checked to be valid Punycode.
var emailDomains = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.CheckHyphens(false))

// CleanEmail returns email as it is stored, or an INVALID_DATA error naming
// field when it is not a plain address (local@domain.tld, no display name).
//
// The stored form is trimmed and lower-cased; its local part is in NFC and
// its domain in ASCII ("xn--" labels, the A-label form of IDNA): bücher.de
// and xn--bcher-kva.de are one address, stored as xn--bcher-kva.de. ASCII
// domains stay as they are, SMTP servers without SMTPUTF8 can still deliver
// to the address, and the length limit counts what is sent.
//
// Addresses are refused that could pass for another one: a local part with
// control, format (invisible), private-use, unassigned or separator
// characters, a domain with such characters (other than the joiners IDNA
// allows in context), and a local part or domain label that mixes scripts
// beyond what UTS 39's highly restrictive level allows.
func CleanEmail(field, email string) (string, error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", errcode.Invalid(field, "email is required")
	}
	// An ASCII address is stored as it is, lower-cased; another may shrink
	// in mapping and normalization, but not by a factor of four, which
	// spares them input of any size.
	if len(e) > maxEmail && isASCII(e) || len(e) > 4*maxEmail {
		return "", errcode.Invalid(field, "email must be at most %d characters", maxEmail)
	}
	if !utf8.ValidString(e) {
		return "", errcode.Invalid(field, "%q is not a valid email address", email)
	}
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return "", errcode.Invalid(field, "%q is not a valid email address", email)
	}
	local, err := cleanLocalPart(field, e[:at])
	if err != nil {
		return "", err
	}
	domain, err := cleanDomain(field, email, e[at+1:])
	if err != nil {
		return "", err
	}
	e = local + "@" + domain
	if len(e) > maxEmail {
		if isASCII(e) {
			return "", errcode.Invalid(field, "email must be at most %d characters", maxEmail)
		}
		return "", errcode.Invalid(field, "email must be at most %d bytes, counting UTF-8 bytes in the local part and the domain in its xn-- form; got %d", maxEmail, len(e))
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || !validDomain(domain) {
		return "", errcode.Invalid(field, "%q is not a valid email address", email)
	}
	return e, nil
}

// NormalizeEmail returns the form emails are stored and compared in, for
// lookups (login, filters): what CleanEmail returns. An address CleanEmail
// refuses is only trimmed and lower-cased, as every address once was, so it
// finds no address stored since and still finds one stored before with the
// same text.
func NormalizeEmail(email string) string {
	if e, err := CleanEmail("email", email); err == nil {
		return e
	}
	return strings.ToLower(strings.TrimSpace(email))
}

// cleanLocalPart returns the local part of an address lower-cased and in
// NFC, so that the composed and decomposed forms of a letter are one
// address.
func cleanLocalPart(field, local string) (string, error) {
	local = norm.NFC.String(strings.ToLower(local))
	for _, r := range local {
		// ASCII is left to mail.ParseAddress, which refuses what it
		// always refused, with the message it always had.
		if r < utf8.RuneSelf {
			continue
		}
		if what := unfitForEmail(r); what != "" {
			return "", errcode.Invalid(field, "email must not contain %U, %s", r, what)
		}
	}
	if s := mixedScripts(local); s != nil {
		return "", errcode.Invalid(field, "the part of the email before the @ mixes %s letters; use letters of one script", strings.Join(s, " and "))
	}
	return local, nil
}

// cleanDomain returns the domain of an address in its ASCII form.
func cleanDomain(field, email, domain string) (string, error) {
	for _, r := range domain {
		if r < utf8.RuneSelf || r == zwnj || r == zwj {
			// IDNA's ContextJ rules decide where joiners may stand.
			continue
		}
		if what := unfitForEmail(r); what != "" {
			return "", errcode.Invalid(field, "email must not contain %U, %s", r, what)
		}
	}
	ascii, err := emailDomains.ToASCII(strings.ToLower(domain))
	if err != nil {
		return "", errcode.Invalid(field, "%q is not a valid email address", email)
	}
	// The scripts are those of the U-labels: an A-label is ASCII whatever
	// it spells.
	unicodeForm, err := emailDomains.ToUnicode(ascii)
	if err != nil {
		return "", errcode.Invalid(field, "%q is not a valid email address", email)
	}
	for label := range strings.SplitSeq(unicodeForm, ".") {
		if s := mixedScripts(label); s != nil {
			return "", errcode.Invalid(field, "the domain label %q of the email mixes %s letters; use letters of one script", label, strings.Join(s, " and "))
		}
	}
	return ascii, nil
}

const (
	zwnj = '\u200c' // ZERO WIDTH NON-JOINER
	zwj  = '\u200d' // ZERO WIDTH JOINER
)

// unfitForEmail says why r cannot stand in an address ("a control
// character"), or "" when it can: characters that do not show, or show as
// nothing a reader can tell apart, let one address pass for another.
func unfitForEmail(r rune) string {
	switch {
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case unicode.Is(unicode.Cf, r):
		return "an invisible format character"
	case unicode.Is(unicode.Co, r):
		return "a private-use character"
	case unicode.Is(unicode.Cs, r):
		return "a surrogate"
	case unicode.In(r, unicode.Z):
		return "a space or separator"
	case unicode.Is(unicode.Cn, r):
		return "a character Unicode has not assigned"
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// scriptNames are the scripts of unicode.Scripts a letter can belong to,
// sorted so that messages name them in a stable order. Common (digits,
// punctuation) and Inherited (combining marks) go with any script.
var scriptNames = func() []string {
	names := make([]string, 0, len(unicode.Scripts))
	for name := range unicode.Scripts {
		if name != "Common" && name != "Inherited" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}()

// scriptOf returns the script of r, or "" for Common, Inherited and
// unassigned runes.
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	}
	for _, name := range scriptNames {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	return ""
}

// cjkScripts are the sets of scripts UTS 39's highly restrictive level
// allows in one identifier besides a single script: Japanese, Chinese with
// Bopomofo and Korean writing mix them, each with Latin.
var cjkScripts = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// mixedScripts returns the scripts of s, sorted, when they are more than UTS
// 39's highly restrictive level allows (such as Latin and Cyrillic, which
// make "example" of an "exаmple" with a Cyrillic а), and nil when they are
// not.
func mixedScripts(s string) []string {
	var found []string
	for _, r := range s {
		if name := scriptOf(r); name != "" && !slices.Contains(found, name) {
			found = append(found, name)
		}
	}
	if len(found) < 2 {
		return nil
	}
	for _, set := range cjkScripts {
		if !slices.ContainsFunc(found, func(name string) bool { return !slices.Contains(set, name) }) {
			return nil
		}
	}
	slices.Sort(found)
	return found
}

// validDomain accepts DNS names of two or more labels of letters, digits and
// inner hyphens, in their ASCII form.
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
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z') {
				return false
			}
		}
	}
	return true
}

// DisplayEmail returns a stored address with its domain in Unicode, for
// people: bücher.de rather than the xn--bcher-kva.de it is stored as.
func DisplayEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || !strings.Contains(email[at:], "xn--") {
		return email
	}
	domain, err := idna.Display.ToUnicode(email[at+1:])
	if err != nil {
		return email
	}
	return email[:at+1] + domain
}
