package ordering

import "testing"

// The asker sees enough of the order's address to tell which of its own
// to look in: a letter of each part and the top-level domain, never more.
func TestMaskEmail(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ email, want string }{
		{"jane@example.com", "j***@e***.com"},
		{"j@mail.example.co.uk", "j***@m***.uk"},
		{"über@xn--bcher-kva.de", "ü***@b***.de"},
		{"ann@localhost", "a***@l***"},
		{"a@b.c", "a***@b***.c"},
		{"not an address", "***"},
	} {
		if got := maskEmail(c.email); got != c.want {
			t.Errorf("maskEmail(%q) = %q, want %q", c.email, got, c.want)
		}
	}
}
