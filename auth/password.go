// Package auth is who is calling: password hashing, signed tokens and the
// actor (a customer or an admin user) a request acts as.
package auth

import (
	"context"
	"fmt"
	"runtime"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"customerservice/errcode"
)

// Password length bounds, in characters. The upper bound is checked before
// hashing, so a huge password costs nothing.
const (
	MinPassword = 8
	MaxPassword = 128
)

// hashParams are OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
var hashParams = &argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Hasher hashes and checks passwords, a few at a time: each takes 19 MiB,
// so a burst of logins cannot exhaust memory.
type Hasher struct {
	slots chan struct{}
	// dummy is a hash of nothing in particular, checked when there is no
	// identity, so an unknown email takes as long as a wrong password.
	dummy string
}

// NewHasher returns a Hasher that runs as many hashes at once as there are
// CPUs.
func NewHasher() (*Hasher, error) {
	h := &Hasher{slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	dummy, err := argon2id.CreateHash("not a password anyone has", hashParams)
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// CheckPassword returns INVALID_DATA, naming field, when password cannot
// be one.
func CheckPassword(field, password string) error {
	n := utf8.RuneCountInString(password)
	if len(password) > 4*MaxPassword || n > MaxPassword {
		return errcode.Invalid(field, "password must be at most %d characters", MaxPassword)
	}
	if n < MinPassword {
		return errcode.Invalid(field, "password must be at least %d characters", MinPassword)
	}
	return nil
}

// Hash returns the PHC-encoded argon2id hash of password, which must have
// passed CheckPassword.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	hash, err := argon2id.CreateHash(password, hashParams)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// Verify reports whether password matches hash. An empty hash (no such
// identity) is checked against a dummy, taking the same time, and never
// matches.
func (h *Hasher) Verify(ctx context.Context, password, hash string) (bool, error) {
	if len(password) > 4*MaxPassword {
		password = password[:4*MaxPassword]
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	if hash == "" {
		_, _ = argon2id.ComparePasswordAndHash(password, h.dummy)
		return false, nil
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	return ok, nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }
