package auth

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"customerservice/db"
	"customerservice/errcode"
)

// How long email tokens can be used. A verification link may wait in an
// inbox for a day; a change of the address one logs in with is treated
// like a password reset.
const (
	EmailVerifyTTL = 24 * time.Hour
	EmailChangeTTL = time.Hour
)

// Email token mails are throttled per identity like reset mails: at most
// one in ResetMailInterval and ResetMailsPerHour in an hour, the mail sent
// at registration included.

// mailEmailToken makes an email token of purpose for a clean email and
// queues the mail that carries it, in tx: the token exists exactly when its
// mail does, and the outbox erases it once sent.
func (s *Service) mailEmailToken(ctx context.Context, tx db.Tx, identityID, purpose, email string) error {
	token, hash, err := NewSecretToken()
	if err != nil {
		return err
	}
	ttl, template := EmailVerifyTTL, "email_verification"
	if purpose == db.EmailChange {
		ttl, template = EmailChangeTTL, "email_change"
	}
	expires := time.Now().Add(ttl)
	if err := db.CreateEmailToken(ctx, tx, identityID, purpose, email, hash, expires); err != nil {
		return err
	}
	return db.EnqueueNotification(ctx, tx, email, template, db.JSONObject{
		"token": token, "expires_at": expires.UTC().Format(time.RFC3339),
	}, expires)
}

// throttleEmailMail returns RATE_LIMITED when the identity has been mailed
// an email token too recently or too often.
func throttleEmailMail(ctx context.Context, tx db.Tx, identityID string) error {
	wait, err := db.EmailMailWait(ctx, tx, identityID, ResetMailInterval, ResetMailsPerHour, time.Hour)
	if err != nil {
		return err
	}
	if wait > 0 {
		return errcode.Limited(wait, "An email was sent a moment ago; try again in %d seconds", errcode.RetryAfterSeconds(wait))
	}
	return nil
}

// RequestEmailVerification mails a new verification token to the email of
// the request's identity, replacing the unused ones, and reports whether
// it did: false when the email is verified already. Returns UNAUTHORIZED
// without a token that stands and RATE_LIMITED when mailed too recently.
func (s *Service) RequestEmailVerification(ctx context.Context) (bool, error) {
	a, err := ActorFrom(ctx)
	if err != nil {
		return false, err
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (bool, error) {
		identity, err := db.LockIdentity(ctx, tx, a.IdentityID)
		if err != nil || identity.EmailVerifiedAt != nil {
			return false, err
		}
		if err := throttleEmailMail(ctx, tx, identity.ID); err != nil {
			return false, err
		}
		if err := db.DropEmailTokens(ctx, tx, identity.ID, db.EmailVerify); err != nil {
			return false, err
		}
		return true, s.mailEmailToken(ctx, tx, identity.ID, db.EmailVerify, identity.Email)
	})
}

// EmailChangeRequest is a change of email waiting for its token.
type EmailChangeRequest struct {
	NewEmail  string
	ExpiresAt time.Time
}

// RequestEmailChange mails a token to newEmail that changes the signed-in
// customer's email to it (see VerifyEmail), replacing an earlier request's.
// Nothing changes until the token is used. Returns NOT_ALLOWED for an
// identity shared with an admin user (whose email is the admin's login
// too), INVALID_DATA for a bad email or the current one, DUPLICATE_ERROR
// when another identity or registered customer has it (checked again when
// the token is used), and RATE_LIMITED when mailed too recently.
func (s *Service) RequestEmailChange(ctx context.Context, newEmail string) (EmailChangeRequest, error) {
	a, err := Require(ctx, Customer)
	if err != nil {
		return EmailChangeRequest{}, err
	}
	clean, err := db.CleanEmail("new_email", newEmail)
	if err != nil {
		return EmailChangeRequest{}, err
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (EmailChangeRequest, error) {
		identity, err := db.LockIdentity(ctx, tx, a.IdentityID)
		if err != nil {
			return EmailChangeRequest{}, err
		}
		if identity.UserID != nil {
			return EmailChangeRequest{}, errcode.New(errcode.NotAllowed, "This login is an admin user's too; its email is changed by an administrator")
		}
		if clean == identity.Email {
			return EmailChangeRequest{}, errcode.Invalid("new_email", "new_email is the account's email already")
		}
		if err := emailFree(ctx, tx, clean, a.ID); err != nil {
			return EmailChangeRequest{}, err
		}
		if err := throttleEmailMail(ctx, tx, identity.ID); err != nil {
			return EmailChangeRequest{}, err
		}
		if err := db.DropEmailTokens(ctx, tx, identity.ID, db.EmailChange); err != nil {
			return EmailChangeRequest{}, err
		}
		if err := s.mailEmailToken(ctx, tx, identity.ID, db.EmailChange, clean); err != nil {
			return EmailChangeRequest{}, err
		}
		return EmailChangeRequest{NewEmail: clean, ExpiresAt: time.Now().Add(EmailChangeTTL).Truncate(time.Second)}, nil
	})
}

// emailFree returns DUPLICATE_ERROR when a clean email is taken for a
// login: by an identity, or by a registered customer other than self that
// is not deleted. Guests may share it, as at registration.
func emailFree(ctx context.Context, tx db.Tx, email, self string) error {
	other, err := db.IdentityByEmail(ctx, tx, email)
	if err != nil {
		return err
	}
	if other != nil {
		return errcode.New(errcode.DuplicateError, "Identity with email already exists")
	}
	taken, err := db.RegisteredEmailTaken(ctx, tx, email, self)
	if err != nil {
		return err
	}
	if taken {
		return errcode.New(errcode.DuplicateError, "A registered customer with email %s already exists", email)
	}
	return nil
}

// EmailVerification is what using an email token did.
type EmailVerification struct {
	Email           string
	EmailVerifiedAt time.Time
	// Changed is true when the token confirmed a change of email.
	Changed bool
}

// VerifyEmail spends an email token. A verification token marks the
// identity's email verified, if it is still the address the token was
// mailed to. A change token (request_email_change) changes the identity's
// email, and its registered customer's, to the address it was mailed to,
// verified, and tells the old address by mail; the uniqueness rules are
// checked again in the change's transaction, so the change is refused
// (DUPLICATE_ERROR, the token left unspent) when the address was taken
// meanwhile, and of two concurrent changes to one address one succeeds.
// Other unused email tokens of the identity are dropped. Returns
// UNAUTHORIZED for a token that is unknown, spent or expired.
func (s *Service) VerifyEmail(ctx context.Context, token string) (EmailVerification, error) {
	return db.InTx(ctx, s.DB, func(tx db.Tx) (EmailVerification, error) {
		t, err := db.UseEmailToken(ctx, tx, HashToken(token))
		if err != nil {
			return EmailVerification{}, err
		}
		identity, err := db.LockIdentity(ctx, tx, t.IdentityID)
		if err != nil {
			return EmailVerification{}, err
		}
		if err := db.DropEmailTokens(ctx, tx, identity.ID, ""); err != nil {
			return EmailVerification{}, err
		}
		out := EmailVerification{Email: t.Email, Changed: t.Purpose == db.EmailChange}
		switch {
		case t.Purpose == db.EmailVerify && t.Email != identity.Email:
			return EmailVerification{}, errcode.New(errcode.Unauthorized, "This token verifies an address the account no longer has")
		case t.Purpose == db.EmailVerify:
			if err := db.MarkEmailVerified(ctx, tx, identity.ID); err != nil {
				return EmailVerification{}, err
			}
		default:
			if err := s.changeEmail(ctx, tx, identity, t.Email); err != nil {
				return EmailVerification{}, err
			}
		}
		now, err := db.IdentityByID(ctx, tx, identity.ID)
		if err != nil {
			return EmailVerification{}, err
		}
		out.EmailVerifiedAt = *now.EmailVerifiedAt
		return out, nil
	})
}

func (s *Service) changeEmail(ctx context.Context, tx db.Tx, identity *db.Identity, email string) error {
	self := ""
	if identity.CustomerID != nil {
		self = *identity.CustomerID
	}
	if err := emailFree(ctx, tx, email, self); err != nil {
		return err
	}
	if err := db.ChangeIdentityEmail(ctx, tx, identity.ID, email); err != nil {
		return err
	}
	if identity.CustomerID != nil {
		// The unique index decides against a concurrent change or
		// registration that the check above could not see yet.
		if _, err := db.UpdateCustomer(ctx, tx, *identity.CustomerID, db.CustomerFields{Email: db.To(email)}); err != nil {
			if errcode.Of(err) == errcode.DuplicateError {
				return errcode.New(errcode.DuplicateError, "A registered customer with email %s already exists", email)
			}
			return err
		}
	}
	if err := db.DropResetRequests(ctx, tx, identity.Email); err != nil {
		return err
	}
	return db.EnqueueNotification(ctx, tx, identity.Email, "email_changed", db.JSONObject{
		"new_email": maskEmail(email), "changed_at": time.Now().UTC().Format(time.RFC3339),
	}, time.Time{})
}

// maskEmail shows an address as its first letter and its domain's:
// "jane@example.com" is "j***@e***.com". The old address learns that the
// email changed, and enough to recognize the new one, not all of it.
func maskEmail(email string) string {
	email = db.DisplayEmail(email)
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return "***"
	}
	local, domain := email[:at], email[at+1:]
	tld := ""
	if dot := strings.LastIndexByte(domain, '.'); dot >= 0 {
		domain, tld = domain[:dot], domain[dot:]
	}
	first := func(s string) string { _, n := utf8.DecodeRuneInString(s); return s[:n] }
	return first(local) + "***@" + first(domain) + "***" + tld
}
