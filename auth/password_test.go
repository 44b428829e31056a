package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"customerservice/auth"
	"customerservice/errcode"
)

// Passwords are 8 to 128 characters, counted as characters, not bytes; a
// body of more than 4 bytes a character is refused before it is counted.
func TestCheckPasswordBounds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		password string
		want     string // the message, "" when it passes
	}{
		{"7 characters", strings.Repeat("a", 7), "password must be at least 8 characters"},
		{"8 characters", strings.Repeat("a", 8), ""},
		{"7 two-byte characters", strings.Repeat("é", 7), "password must be at least 8 characters"},
		{"8 two-byte characters", strings.Repeat("é", 8), ""},
		{"128 characters", strings.Repeat("a", 128), ""},
		{"129 characters", strings.Repeat("a", 129), "password must be at most 128 characters"},
		{"128 four-byte characters", strings.Repeat("😀", 128), ""},
		{"129 four-byte characters", strings.Repeat("😀", 129), "password must be at most 128 characters"},
		// A megabyte is refused by its length in bytes, before its
		// characters are counted.
		{"a megabyte", strings.Repeat("a", 1<<20), "password must be at most 128 characters"},
		{"empty", "", "password must be at least 8 characters"},
	} {
		err := auth.CheckPassword("input.password", tt.password)
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: %v, want it accepted", tt.name, err)
			}
			continue
		}
		var e *errcode.Error
		if !errors.As(err, &e) || e.Code != errcode.InvalidData || e.Field != "input.password" || e.Message != tt.want {
			t.Errorf("%s: %#v, want INVALID_DATA on input.password: %s", tt.name, err, tt.want)
		}
	}
	if auth.MinPassword != 8 || auth.MaxPassword != 128 {
		t.Errorf("bounds %d..%d, README says 8..128", auth.MinPassword, auth.MaxPassword)
	}
}

func TestHashAndVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := auth.NewHasher()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash(ctx, "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$") {
		t.Errorf("hash %q is not argon2id's PHC string", hash)
	}
	other, _ := h.Hash(ctx, "correct horse")
	if other == hash {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		password, hash string
		want           bool
	}{
		{"correct horse", hash, true},
		{"correct horsE", hash, false},
		{"correct horse", "", false}, // no identity: the dummy is checked, never matched
		{"not a password anyone has", "", false},
	} {
		got, err := h.Verify(ctx, tt.password, tt.hash)
		if err != nil || got != tt.want {
			t.Errorf("Verify(%q, %.20q) = %v, %v; want %v", tt.password, tt.hash, got, err, tt.want)
		}
	}
	if _, err := h.Verify(ctx, "correct horse", "$argon2id$broken"); err == nil {
		t.Error("a broken hash verified without an error")
	}
	// A password longer than any allowed is cut at 512 bytes before it
	// is hashed, so its length costs nothing: the first 512 bytes decide.
	long := strings.Repeat("x", 4*auth.MaxPassword)
	longHash, err := h.Hash(ctx, long)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{{long + "tail", true}, {long, true}, {long[:len(long)-1], false}, {long[:len(long)-1] + "y" + "tail", false}} {
		if got, err := h.Verify(ctx, tt.password, longHash); err != nil || got != tt.want {
			t.Errorf("Verify(%d bytes) = %v, %v; want %v", len(tt.password), got, err, tt.want)
		}
	}
}

func TestSecretTokens(t *testing.T) {
	t.Parallel()
	tok, hash, err := auth.NewSecretToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q: want 32 random bytes in unpadded base64url", tok)
	}
	if hash != auth.HashToken(tok) {
		t.Error("the stored hash is not HashToken of the token")
	}
	again, _, _ := auth.NewSecretToken()
	if again == tok {
		t.Error("two tokens are equal")
	}
	if got := auth.HashToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashToken(abc) = %s, want SHA-256 in hex", got)
	}
}
