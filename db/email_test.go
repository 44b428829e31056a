package db_test

import (
	"errors"
	"strings"
	"testing"

	"customerservice/db"
	"customerservice/errcode"
)

func TestCleanEmailStoresOneFormPerAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"  Jane.Doe@Example.COM ", "jane.doe@example.com"},
		{"a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"},
		{"x@r3---sn-abc.example.com", "x@r3---sn-abc.example.com"},
		// The domain is stored in its ASCII form, whichever form is sent.
		{"hans@bücher.de", "hans@xn--bcher-kva.de"},
		{"hans@BÜCHER.de", "hans@xn--bcher-kva.de"},
		{"hans@xn--bcher-kva.de", "hans@xn--bcher-kva.de"},
		{"hans@XN--BCHER-KVA.DE", "hans@xn--bcher-kva.de"},
		{"hans@bu\u0308cher.de", "hans@xn--bcher-kva.de"},
		// Nontransitional: ß is not ss.
		{"a@straße.de", "a@xn--strae-oqa.de"},
		// UTS 46 maps full-width letters and the ideographic full stop.
		{"a@ｅｘａｍｐｌｅ。com", "a@example.com"},
		// The local part is lower-cased and composed (NFC).
		{"José@example.com", "josé@example.com"},
		{"Jose\u0301@example.com", "josé@example.com"},
		{"иван@пример.рф", "иван@xn--e1afmkfd.xn--p1ai"},
		// Scripts UTS 39's highly restrictive level lets Japanese, Chinese
		// and Korean writing mix, with Latin.
		{"山田たろうタロウa@example.jp", "山田たろうタロウa@example.jp"},
		{"김철수金@example.kr", "김철수金@example.kr"},
		{"ㄅ中文@example.tw", "ㄅ中文@example.tw"},
		// Digits and punctuation go with any script.
		{"иван.2024@example.com", "иван.2024@example.com"},
		// Joiners where IDNA's context rules allow them (after a virama).
		{"a@\u0915\u094d\u200d\u0937.example", "a@xn--11b2ezcw70k.example"},
	} {
		got, err := db.CleanEmail("input.email", c.in)
		if err != nil || got != c.want {
			t.Errorf("CleanEmail(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		if n := db.NormalizeEmail(c.in); n != c.want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q, as CleanEmail stores it", c.in, n, c.want)
		}
	}
}

func TestCleanEmailRefusesLookalikes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, message string }{
		{"john@exa\u200bmple.com", "email must not contain U+200B, an invisible format character"},
		{"jo\u200bhn@example.com", "email must not contain U+200B, an invisible format character"},
		{"john\u200d@example.com", "email must not contain U+200D, an invisible format character"},
		{"jo\u202ehn@example.com", "email must not contain U+202E, an invisible format character"},
		{"john\u00ad@example.com", "email must not contain U+00AD, an invisible format character"},
		{"john@exam\u00adple.com", "email must not contain U+00AD, an invisible format character"},
		{"jo\ufeffhn@example.com", "email must not contain U+FEFF, an invisible format character"},
		{"jo\u0085hn@example.com", "email must not contain U+0085, a control character"},
		{"jo\ue000hn@example.com", "email must not contain U+E000, a private-use character"},
		{"jo\u00a0hn@example.com", "email must not contain U+00A0, a space or separator"},
		{"jo\u2028hn@example.com", "email must not contain U+2028, a space or separator"},
		{"john@example\u3000.com", "email must not contain U+3000, a space or separator"},
		{"jo\U000e0080hn@example.com", "email must not contain U+E0080, a character Unicode has not assigned"},
		{"john@ex\u0430mple.com", `the domain label "exаmple" of the email mixes Cyrillic and Latin letters; use letters of one script`},
		{"john@xn--exmple-4nf.com", `the domain label "exаmple" of the email mixes Cyrillic and Latin letters; use letters of one script`},
		{"j\u043ehn@example.com", "the part of the email before the @ mixes Cyrillic and Latin letters; use letters of one script"},
		{"αlpha@example.com", "the part of the email before the @ mixes Greek and Latin letters; use letters of one script"},
		{"abc\u0663@example.com", "the part of the email before the @ mixes Arabic and Latin letters; use letters of one script"},
		{"한글ひらがな@example.com", "the part of the email before the @ mixes Hangul and Hiragana letters; use letters of one script"},
		{"a@xn--zz.com", `"a@xn--zz.com" is not a valid email address`},
		{"a@exa_mple.com", `"a@exa_mple.com" is not a valid email address`},
		{"a@\u200d.example", `"a@\u200d.example" is not a valid email address`},
		{"not an email", `"not an email" is not a valid email address`},
		{"a@localhost", `"a@localhost" is not a valid email address`},
		{"Jane <jane@example.com>", `"Jane <jane@example.com>" is not a valid email address`},
		{"a@b\xff.com", `"a@b\xff.com" is not a valid email address`},
		{" ", "email is required"},
		{strings.Repeat("a", 250) + "@example.com", "email must be at most 254 characters"},
		// 134 characters, 256 bytes as sent.
		{strings.Repeat("ü", 122) + "@example.com", "email must be at most 254 bytes, counting UTF-8 bytes in the local part and the domain in its xn-- form; got 256"},
	} {
		got, err := db.CleanEmail("input.email", c.in)
		var e *errcode.Error
		if !errors.As(err, &e) {
			t.Errorf("CleanEmail(%q) = %q, %v; want INVALID_DATA %q", c.in, got, err, c.message)
			continue
		}
		if e.Code != errcode.InvalidData || e.Field != "input.email" || e.Message != c.message {
			t.Errorf("CleanEmail(%q): %s on %q: %q; want INVALID_DATA on input.email: %q", c.in, e.Code, e.Field, e.Message, c.message)
		}
	}
}

// TestNormalizeEmailOfRefusedAddresses: an address CleanEmail refuses is
// looked up as it always was, trimmed and lower-cased, so an address stored
// before the rules still finds its row and no other.
func TestNormalizeEmailOfRefusedAddresses(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		" John@Ex\u0430mple.com ": "john@ex\u0430mple.com",
		"jo\u200bhn@example.com":  "jo\u200bhn@example.com",
		"Not An Email":            "not an email",
	} {
		if got := db.NormalizeEmail(in); got != want {
			t.Errorf("NormalizeEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
