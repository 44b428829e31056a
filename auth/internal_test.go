package auth

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/golang-jwt/jwt/v5"

	"customerservice/errcode"
)

const testSecret = "a test secret of at least 32 bytes!!"

// productionHashParams are the parameters the service hashes with; the
// tests hash with cheap ones, since the login limits take hundreds of
// checks to reach and the mutation tests run them hundreds of times.
var productionHashParams = *hashParams

func init() {
	hashParams = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// The service hashes with OWASP's argon2id recommendation: 19 MiB, 2
// passes, 1 lane.
func TestHashParamsAreOWASPs(t *testing.T) {
	t.Parallel()
	want := argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	if productionHashParams != want {
		t.Errorf("hash parameters %+v, want %+v", productionHashParams, want)
	}
}

// clock is a time the test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func testTokens(tb testing.TB, ttl time.Duration) (*Tokens, *clock) {
	tb.Helper()
	tokens, err := NewTokens([]byte(testSecret), ttl)
	if err != nil {
		tb.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	tokens.now = c.now
	return tokens, c
}

// A token is good until its expiry, to the second, and not after.
func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	tokens, c := testTokens(t, time.Hour)
	actor := Actor{Type: Customer, ID: "cus_1", IdentityID: "authid_1", Generation: 3}
	tok, exp, err := tokens.Issue(actor)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.t.Add(time.Hour); !exp.Equal(want) {
		t.Errorf("expires at %v, want %v", exp, want)
	}
	for _, tt := range []struct {
		after time.Duration
		ok    bool
	}{{0, true}, {time.Hour - time.Second, true}, {time.Hour + time.Second, false}, {24 * time.Hour, false}} {
		c.t = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(tt.after)
		got, err := tokens.Verify(tok)
		if tt.ok && (err != nil || got != actor) {
			t.Errorf("%v after issue: %+v, %v; want %+v", tt.after, got, err, actor)
		}
		if !tt.ok && !isBadToken(err) {
			t.Errorf("%v after issue: %+v, %v; want UNAUTHORIZED", tt.after, got, err)
		}
	}
	// A token issued in the future (a clock skewed, or a forged iat) is
	// refused.
	c.t = time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	if _, err := tokens.Verify(tok); !isBadToken(err) {
		t.Errorf("a token used before its issue time: %v, want UNAUTHORIZED", err)
	}
}

func isBadToken(err error) bool {
	var e *errcode.Error
	return errors.As(err, &e) && e.Code == errcode.Unauthorized && e.Message == "Invalid or expired token"
}

// Only the service's own HS256 tokens, for its issuer and audience, with an
// expiry and a known actor type and identity, are believed.
func TestVerifyRefusesForeignTokens(t *testing.T) {
	t.Parallel()
	tokens, c := testTokens(t, time.Hour)
	good := func() claims {
		return claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: issuer, Audience: jwt.ClaimStrings{audience}, Subject: "authid_1",
				IssuedAt: jwt.NewNumericDate(c.t), ExpiresAt: jwt.NewNumericDate(c.t.Add(time.Hour)),
			},
			ActorType: User, ActorID: "user_1", IdentityID: "authid_1",
		}
	}
	sign := func(method jwt.SigningMethod, key any, cl claims) string {
		s, err := jwt.NewWithClaims(method, cl).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := tokens.Verify(sign(jwt.SigningMethodHS256, []byte(testSecret), good())); err != nil {
		t.Fatalf("the forger's template itself is refused: %v", err)
	}
	withClaims := func(change func(*claims)) string {
		cl := good()
		change(&cl)
		return sign(jwt.SigningMethodHS256, []byte(testSecret), cl)
	}
	tampered := withClaims(func(*claims) {})
	parts := strings.Split(tampered, ".")
	forged := good()
	forged.ActorID = "user_admin"
	other := strings.Split(sign(jwt.SigningMethodHS256, []byte("another secret of at least 32 bytes!"), forged), ".")
	cases := map[string]string{
		"another key":       sign(jwt.SigningMethodHS256, []byte("another secret of at least 32 bytes!"), good()),
		"HS384":             sign(jwt.SigningMethodHS384, []byte(testSecret), good()),
		"alg none":          sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good()),
		"payload swapped":   parts[0] + "." + other[1] + "." + parts[2],
		"another issuer":    withClaims(func(c *claims) { c.Issuer = "someone-else" }),
		"another audience":  withClaims(func(c *claims) { c.Audience = jwt.ClaimStrings{"other-api"} }),
		"no expiry":         withClaims(func(c *claims) { c.ExpiresAt = nil }),
		"unknown actor":     withClaims(func(c *claims) { c.ActorType = "admin" }),
		"no identity":       withClaims(func(c *claims) { c.IdentityID = "" }),
		"not a token":       "not.a.token",
		"empty":             "",
		"customer, no idty": withClaims(func(c *claims) { c.ActorType, c.IdentityID = Customer, "" }),
	}
	for name, tok := range cases {
		if a, err := tokens.Verify(tok); !isBadToken(err) {
			t.Errorf("%s: %+v, %v; want UNAUTHORIZED", name, a, err)
		}
	}
	// Both actor types are believed.
	for _, typ := range []ActorType{Customer, User} {
		if a, err := tokens.Verify(withClaims(func(c *claims) { c.ActorType = typ })); err != nil || a.Type != typ {
			t.Errorf("actor type %s: %+v, %v", typ, a, err)
		}
	}
}

func TestTokenSecretSize(t *testing.T) {
	t.Parallel()
	if _, err := NewTokens(make([]byte, 31), time.Hour); err == nil {
		t.Error("a 31-byte secret was accepted")
	}
	if _, err := NewTokens(make([]byte, 32), time.Hour); err != nil {
		t.Errorf("a 32-byte secret: %v", err)
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "token.secret")
	first, err := LoadOrCreateSecret(path)
	if err != nil || len(first) != 32 {
		t.Fatalf("created %d bytes, %v", len(first), err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
	again, err := LoadOrCreateSecret(path)
	if err != nil || string(again) != string(first) {
		t.Errorf("the second start read another secret (%v)", err)
	}
	for name, content := range map[string]string{
		"short":   strings.Repeat("ab", 31) + "\n",
		"not hex": strings.Repeat("zz", 32) + "\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateSecret(p); err == nil {
			t.Errorf("%s secret file accepted", name)
		}
	}
	p := filepath.Join(dir, "exactly")
	os.WriteFile(p, []byte(strings.Repeat("ab", 32)), 0o600)
	if s, err := LoadOrCreateSecret(p); err != nil || len(s) != 32 {
		t.Errorf("a 32-byte secret without a newline: %d bytes, %v", len(s), err)
	}
	// A path that cannot be read as a file is an error, not a new secret.
	if _, err := LoadOrCreateSecret(dir); err == nil {
		t.Error("a directory was taken for a secret")
	}
}

// Throttling keys: an IPv4 address is itself, an IPv6 address its /64
// (one subscriber's), a mapped IPv4 address the IPv4 one, and no address
// one shared key.
func TestAddressKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"203.0.113.5":                   "203.0.113.5",
		"::ffff:203.0.113.5":            "203.0.113.5",
		"2001:db8:1:2:3:4:5:6":          "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff:ffff:ffff:1": "2001:db8:1:2::/64",
		"fe80::1%eth0":                  "fe80::/64",
	} {
		if got := addressKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("addressKey(%s) = %s, want %s", in, got, want)
		}
	}
	if got := addressKey(netip.Addr{}); got != "unknown" {
		t.Errorf("no address: %s, want unknown", got)
	}
	if a, b := addressKey(netip.MustParseAddr("2001:db8:1:2::1")), addressKey(netip.MustParseAddr("2001:db8:1:3::1")); a == b {
		t.Errorf("two /64s share the key %s", a)
	}
}

// An account key is the email up to 320 bytes, and a hash of anything
// longer, so a megabyte of email costs a short row.
func TestAccountKey(t *testing.T) {
	t.Parallel()
	at320 := strings.Repeat("a", 308) + "@example.com"
	if got := accountKey(at320); got != at320 {
		t.Errorf("a 320-byte email is counted as %q", got)
	}
	at321 := "b" + at320
	if got := accountKey(at321); got != "sha256:"+HashToken(at321) {
		t.Errorf("a 321-byte email is counted as %q", got)
	}
}

// A hasher whose slots are all taken makes the next hash wait, and a
// request that gives up while it waits gets its context's error, not a
// hash.
func TestHasherWaitsForASlot(t *testing.T) {
	t.Parallel()
	h, err := NewHasher()
	if err != nil {
		t.Fatal(err)
	}
	for range cap(h.slots) {
		h.slots <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "a password"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with no slot and a cancelled request: %v", err)
	}
	if _, err := h.Verify(ctx, "a password", ""); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with no slot and a cancelled request: %v", err)
	}
	<-h.slots
	if _, err := h.Hash(context.Background(), "a password"); err != nil {
		t.Errorf("Hash with a slot free: %v", err)
	}
	if len(h.slots) != cap(h.slots)-1 {
		t.Errorf("%d of %d slots taken after the hash, want it given back", len(h.slots), cap(h.slots))
	}
}
