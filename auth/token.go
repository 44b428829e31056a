package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"customerservice/errcode"
)

// ActorType is the kind of account a token acts as.
type ActorType string

// The actor types.
const (
	Customer ActorType = "customer"
	User     ActorType = "user"
)

// Actor is who a request acts as: the identity that logged in, as a
// customer or an admin user. ID is empty while the identity has no actor of
// that type yet (a customer who registered but has no account).
type Actor struct {
	Type       ActorType
	ID         string
	IdentityID string
	// Generation is the identity's token generation when the token was
	// issued; a password reset moves it on, ending the tokens before it.
	Generation int
	// SessionID is the session the token was issued in (its "sid"
	// claim); revoking the session ends the token at once. Empty for a
	// token issued before sessions.
	SessionID string
}

const (
	issuer   = "customerservice"
	audience = "customerservice-api"
	// minSecret is HS256's key size.
	minSecret = 32
)

// Tokens issues and verifies the service's tokens: HS256-signed JWTs with
// a fixed issuer and audience, and an expiry.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewTokens returns Tokens signing with secret, valid for ttl.
func NewTokens(secret []byte, ttl time.Duration) (*Tokens, error) {
	if len(secret) < minSecret {
		return nil, fmt.Errorf("the token signing secret must be at least %d bytes", minSecret)
	}
	return &Tokens{secret: secret, ttl: ttl, now: time.Now}, nil
}

// claims are a token's contents.
type claims struct {
	jwt.RegisteredClaims
	ActorType  ActorType `json:"actor_type"`
	ActorID    string    `json:"actor_id"`
	IdentityID string    `json:"auth_identity_id"`
	// Generation is compared with the identity's, rather than the issue
	// time with the reset's: iat has only second precision.
	Generation int `json:"gen"`
	// SessionID is checked against the session's row, like Generation.
	SessionID string `json:"sid,omitempty"`
}

// TTL is how long the access tokens it issues are valid.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue returns a token for a, and when it expires.
func (t *Tokens) Issue(a Actor) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl).Truncate(time.Second)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Audience:  jwt.ClaimStrings{audience},
			Subject:   a.IdentityID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		ActorType:  a.Type,
		ActorID:    a.ID,
		IdentityID: a.IdentityID,
		Generation: a.Generation,
		SessionID:  a.SessionID,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// errBadToken is all a client learns of why its token was refused.
var errBadToken = errcode.New(errcode.Unauthorized, "Invalid or expired token")

// Verify returns the actor of a token, or UNAUTHORIZED when it is
// malformed, tampered with, signed with another key or algorithm (alg none
// included), for another issuer or audience, or expired. Whether the token
// still stands (no password reset since, its actor still the identity's)
// is for Service.Middleware to check against the database.
func (t *Tokens) Verify(token string) (Actor, error) {
	a, _, err := t.verify(token)
	return a, err
}

// verify is Verify that also returns when the token expires.
func (t *Tokens) verify(token string) (Actor, time.Time, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return Actor{}, time.Time{}, errBadToken
	}
	if c.ActorType != Customer && c.ActorType != User || c.IdentityID == "" {
		return Actor{}, time.Time{}, errBadToken
	}
	return Actor{Type: c.ActorType, ID: c.ActorID, IdentityID: c.IdentityID, Generation: c.Generation, SessionID: c.SessionID}, c.ExpiresAt.Time, nil
}

// LoadOrCreateSecret returns the secret kept in path, creating a random one
// there (readable only by this user) the first time.
func LoadOrCreateSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(secret) < minSecret {
			return nil, fmt.Errorf("%s does not hold a token secret of %d bytes or more in hex", path, minSecret)
		}
		return secret, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(secret)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("save token secret: %w", err)
	}
	return secret, nil
}
