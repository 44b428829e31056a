package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/errcode"
)

// Service runs the account flows: registering identities, logging in,
// resetting passwords, and turning an identity into a customer or an admin
// user.
type Service struct {
	DB     *sqlx.DB
	Hasher *Hasher
	Tokens *Tokens
	// LoginPolicy bounds password checks; DefaultLoginPolicy when zero.
	LoginPolicy db.LoginLimits
	// RefreshTTL is how long a session's refresh token can be used;
	// DefaultRefreshTTL when zero. Each refresh starts it again.
	RefreshTTL time.Duration
}

// conn is what the flows' statements run on: the pool, or the shared
// transaction of a request with an Idempotency-Key (db.BeginShared), so
// that what a keyed registration or login writes is kept with its answer
// or not at all. db.InTx takes the pool and finds the transaction itself.
func (s *Service) conn(ctx context.Context) sqlx.ExtContext { return db.Conn(ctx, s.DB) }

// Token is a signed access token and its expiry, with, when a session
// starts (login, register), its first refresh token, or when one is
// refreshed, the next one.
type Token struct {
	Token     string
	ExpiresAt time.Time
	// RefreshToken is empty where the session's refresh token stays the
	// one the client has (create_customer_account, change_password).
	RefreshToken     string
	RefreshExpiresAt time.Time
	SessionID        string
}

// ResetTokenTTL is how long a password reset token can be used.
const ResetTokenTTL = time.Hour

var errInvalidLogin = errcode.New(errcode.Unauthorized, "Invalid email or password")

func (s *Service) issue(a Actor) (Token, error) {
	tok, exp, err := s.Tokens.Issue(a)
	return Token{Token: tok, ExpiresAt: exp, SessionID: a.SessionID}, err
}

// Register creates an emailpass identity, mails a token that verifies its
// email (see VerifyEmail), and starts a session whose token, of actor type
// t, is not linked to any account yet. Returns INVALID_DATA for a bad
// email or password and UNAUTHORIZED "Identity with email already exists"
// when the email has an identity, whoever it belongs to.
func (s *Service) Register(ctx context.Context, t ActorType, email, password string) (Token, error) {
	clean, err := db.CleanEmail("email", email)
	if err != nil {
		return Token{}, err
	}
	if err := CheckPassword("password", password); err != nil {
		return Token{}, err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return Token{}, err
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (Token, error) {
		identity, err := db.CreateIdentity(ctx, tx, clean, hash)
		if err != nil {
			return Token{}, err
		}
		if err := s.mailEmailToken(ctx, tx, identity.ID, db.EmailVerify, clean); err != nil {
			return Token{}, err
		}
		return s.startSession(ctx, tx, Actor{Type: t, IdentityID: identity.ID, Generation: identity.TokenGeneration})
	})
}

// Login checks an email and password, starts a session and returns its
// tokens: an access token for the identity's account of type t (unlinked
// when it has none) and a refresh token.
// A wrong password and an unknown email fail alike, in about the same time:
// UNAUTHORIZED "Invalid email or password". Every attempt is counted
// before the password is checked (see db.CountLoginAttempt and README.md,
// "Login throttling"); one over a limit is RATE_LIMITED, with how long to
// wait, and its password is not checked.
func (s *Service) Login(ctx context.Context, t ActorType, email, password string) (Token, error) {
	clean := db.NormalizeEmail(email)
	account, address := accountKey(clean), addressKey(ClientAddrFrom(ctx))
	verdict, err := db.CountLoginAttempt(ctx, s.conn(ctx), account, address, s.Policy())
	if err != nil {
		return Token{}, err
	}
	if verdict.Wait > 0 {
		if verdict.Reached != "" {
			// Once a window, so that a flood of refused attempts does not
			// flood the log too.
			_, err := db.InTx(ctx, s.DB, func(tx db.Tx) (struct{}, error) {
				return struct{}{}, db.RecordEvent(ctx, tx, "auth.login_throttled", db.JSONObject{
					"email": account, "address": address, "limit": verdict.Reached, "actor_type": string(t)})
			})
			if err != nil {
				return Token{}, err
			}
		}
		return Token{}, errcode.Limited(verdict.Wait, "Too many login attempts; try again in %d seconds", errcode.RetryAfterSeconds(verdict.Wait))
	}
	identity, err := db.IdentityByEmail(ctx, s.conn(ctx), clean)
	if err != nil {
		return Token{}, err
	}
	hash := ""
	if identity != nil {
		hash = identity.PasswordHash
	}
	ok, err := s.Hasher.Verify(ctx, password, hash)
	if err != nil {
		return Token{}, err
	}
	if !ok {
		return Token{}, errInvalidLogin
	}
	if err := db.LoginSucceeded(ctx, s.conn(ctx), account, address); err != nil {
		return Token{}, err
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (Token, error) {
		return s.startSession(ctx, tx, actorOf(identity, t))
	})
}

// actorOf is the actor of type t of an identity as it is now: linked to
// its customer or admin user when it has one.
func actorOf(identity *db.Identity, t ActorType) Actor {
	a := Actor{Type: t, IdentityID: identity.ID, Generation: identity.TokenGeneration}
	switch {
	case t == Customer && identity.CustomerID != nil:
		a.ID = *identity.CustomerID
	case t == User && identity.UserID != nil:
		a.ID = *identity.UserID
	}
	return a
}

// DefaultLoginPolicy is the login throttling the service runs with.
// README.md ("Login throttling") gives its numbers and what they trade:
// the policy lives here, with the flow that enforces it, and db only
// counts against the numbers it is given.
func DefaultLoginPolicy() db.LoginLimits {
	return db.LoginLimits{
		Window:     15 * time.Minute,
		PerPair:    10,
		PerAddress: 100,
		FreeChecks: 20,
		FirstDelay: time.Second,
		MaxDelay:   time.Minute,
		Quiet:      24 * time.Hour,
		KnownFor:   30 * 24 * time.Hour,
	}
}

// Policy returns the login policy in force.
func (s *Service) Policy() db.LoginLimits {
	if s.LoginPolicy == (db.LoginLimits{}) {
		return DefaultLoginPolicy()
	}
	return s.LoginPolicy
}

// maxAccountKey bounds the email a login is counted under: no identity has
// a longer one (db.CleanEmail allows far less), and anything longer is
// counted under its hash, so a megabyte of email costs a row of 71 bytes.
const maxAccountKey = 320

// accountKey is the account a login attempt is counted against: its
// normalized email, whether or not an identity has it, so that throttling
// tells nothing of which emails exist.
func accountKey(clean string) string {
	if len(clean) <= maxAccountKey {
		return clean
	}
	return "sha256:" + HashToken(clean)
}

// RequestPasswordReset queues a password reset for the email. It says
// nothing of whether the email has an identity, by its answer or its
// timing: it succeeds for any email, and a known email and an unknown one
// cost the same single insert. ProcessResetRequests does the rest later.
func (s *Service) RequestPasswordReset(ctx context.Context, t ActorType, email string) error {
	clean, err := db.CleanEmail("email", email)
	if err != nil {
		// No identity can have it; the answer is the same.
		return nil
	}
	_, err = db.InTx(ctx, s.DB, func(tx db.Tx) (struct{}, error) { return struct{}{}, db.CreateResetRequest(ctx, tx, clean, string(t)) })
	return err
}

// Reset mails are throttled per identity, silently: at most one in
// ResetMailInterval and ResetMailsPerHour in an hour, so that nobody can
// flood a mailbox by asking again and again.
const (
	ResetMailInterval = time.Minute
	ResetMailsPerHour = 5
)

// resetBatch is how many requests one ProcessResetRequests handles.
const resetBatch = 100

// ProcessResetRequests turns queued reset requests into tokens and mails
// and returns how many requests it took off the queue. A request for an
// email without an identity, one over the identity's mail limits and one
// older than a token's life are dropped without a word. Each request is
// handled in a transaction of its own, so servers share the queue and a
// failure puts the request back.
func (s *Service) ProcessResetRequests(ctx context.Context) (int, error) {
	for n := 0; n < resetBatch; n++ {
		done, err := db.InTx(ctx, s.DB, func(tx db.Tx) (bool, error) {
			req, err := db.ClaimResetRequest(ctx, tx)
			if err != nil || req == nil {
				return false, err
			}
			return true, s.processResetRequest(ctx, tx, req)
		})
		if err != nil || !done {
			return n, err
		}
	}
	return resetBatch, nil
}

func (s *Service) processResetRequest(ctx context.Context, tx db.Tx, req *db.ResetRequest) error {
	if time.Since(req.CreatedAt) > ResetTokenTTL {
		return nil
	}
	identity, err := db.LockIdentityByEmail(ctx, tx, req.Email)
	if err != nil || identity == nil {
		return err
	}
	allowed, err := db.ResetMailAllowed(ctx, tx, identity.ID, ResetMailInterval, ResetMailsPerHour, time.Hour)
	if err != nil || !allowed {
		return err
	}
	token, hash, err := NewSecretToken()
	if err != nil {
		return err
	}
	expires := time.Now().Add(ResetTokenTTL)
	if err := db.CreateResetToken(ctx, tx, identity.ID, hash, expires); err != nil {
		return err
	}
	return db.EnqueueNotification(ctx, tx, identity.Email, "password_reset", db.JSONObject{
		"token": token, "actor_type": req.ActorType, "expires_at": expires.UTC().Format(time.RFC3339),
	}, expires)
}

// RunResetRequests processes reset requests every interval until ctx is
// done; the notification dispatcher then sends their mails.
func (s *Service) RunResetRequests(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := s.ProcessResetRequests(ctx)
			if err != nil && ctx.Err() == nil {
				logger.ErrorContext(ctx, "password reset requests", "error", err)
			}
			if err != nil || n < resetBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ResetPassword spends a reset token and sets the identity's new password.
// The new password ends what the old one let in: every token issued before
// (the identity's token generation moves on), every session, every other
// reset token and queued request, and the login throttle's counts and
// known addresses.
// Returns INVALID_DATA for a bad password and UNAUTHORIZED for a token that
// is unknown, used or expired.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	if err := CheckPassword("password", password); err != nil {
		return err
	}
	// Hashing first keeps the transaction short.
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	_, err = db.InTx(ctx, s.DB, func(tx db.Tx) (struct{}, error) {
		identityID, err := db.UseResetToken(ctx, tx, HashToken(token))
		if err != nil {
			return struct{}{}, err
		}
		if err := db.SetPassword(ctx, tx, identityID, hash); err != nil {
			return struct{}{}, err
		}
		identity, err := db.IdentityByID(ctx, tx, identityID)
		if err != nil {
			return struct{}{}, err
		}
		if err := db.DropResetRequests(ctx, tx, identity.Email); err != nil {
			return struct{}{}, err
		}
		if _, err := db.RevokeSessions(ctx, tx, identityID, "", db.RevokedPasswordReset); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, db.ForgetLoginThrottle(ctx, tx, accountKey(identity.Email))
	})
	return err
}

var errAlreadyCustomer = errcode.New(errcode.NotAllowed, "Request already authenticated as a customer")

// CreateCustomerAccount creates the registered customer of the identity in
// ctx, which must be a customer token not linked yet, and returns it with a
// token that acts as it. A guest customer with the same email stays as it
// is. Returns UNAUTHORIZED without a token, NOT_ALLOWED for a user token or
// an identity that has a customer, and INVALID_DATA for bad fields or an
// email other than the identity's.
func (s *Service) CreateCustomerAccount(ctx context.Context, fields db.CustomerFields) (*db.Customer, Token, error) {
	a, err := ActorFrom(ctx)
	if err != nil {
		return nil, Token{}, err
	}
	if a.Type != Customer {
		return nil, Token{}, errcode.New(errcode.NotAllowed, "Creating a customer account needs a customer token from register or login")
	}
	if a.ID != "" {
		return nil, Token{}, errAlreadyCustomer
	}
	identity, err := db.IdentityByID(ctx, s.conn(ctx), a.IdentityID)
	if err != nil {
		return nil, Token{}, err
	}
	if identity.CustomerID != nil {
		return nil, Token{}, errAlreadyCustomer
	}
	email, err := db.CleanEmail("input.email", fields.Email.Value)
	if err != nil {
		return nil, Token{}, err
	}
	if email != identity.Email {
		return nil, Token{}, errcode.Invalid("input.email", "email must be the one the account logs in with: %s", identity.Email)
	}
	customer, err := db.InTx(ctx, s.DB, func(tx db.Tx) (*db.Customer, error) {
		c, err := db.CreateCustomer(ctx, tx, db.NewCustomer{CustomerFields: fields, HasAccount: true})
		if err != nil {
			return nil, err
		}
		return c, db.LinkCustomer(ctx, tx, identity.ID, c.ID)
	})
	if err != nil {
		return nil, Token{}, err
	}
	// The caller's session goes on, now acting as the customer: its
	// refresh token, which the client has, now refreshes to one.
	tok, err := s.issue(Actor{Type: Customer, ID: customer.ID, IdentityID: identity.ID, Generation: identity.TokenGeneration, SessionID: a.SessionID})
	return customer, tok, err
}

// CreateUser creates an admin user who logs in with email and password.
// When the email has an identity already (a customer's, say), the password
// must be that identity's, and the user shares it.
func (s *Service) CreateUser(ctx context.Context, email, password string, firstName, lastName *string) (*db.User, error) {
	clean, err := db.CleanEmail("email", email)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword("password", password); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	identity, err := db.IdentityByEmail(ctx, s.conn(ctx), clean)
	if err != nil {
		return nil, err
	}
	if identity != nil {
		if ok, err := s.Hasher.Verify(ctx, password, identity.PasswordHash); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("%s already has an identity, and the password is not its password", clean)
		}
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (*db.User, error) {
		if identity == nil {
			if identity, err = db.CreateIdentity(ctx, tx, clean, hash); err != nil {
				return nil, err
			}
		}
		user, err := db.CreateUser(ctx, tx, clean, firstName, lastName)
		if err != nil {
			return nil, err
		}
		return user, db.LinkUser(ctx, tx, identity.ID, user.ID)
	})
}

// NewSecretToken returns a random token for a message and the hash that is
// stored in its place.
func NewSecretToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is how single-use tokens are stored: SHA-256, in hex. They are
// random and long, so a fast hash is enough.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
