package auth

import (
	"context"
	"time"

	"customerservice/db"
	"customerservice/errcode"
)

// DefaultRefreshTTL is how long a refresh token can be used when
// Service.RefreshTTL is not set: a session nobody refreshes for that long
// lapses.
const DefaultRefreshTTL = 30 * 24 * time.Hour

// SessionRetention is how long a revoked or lapsed session, a spent
// refresh token and a used or expired email token are kept (for the reuse
// check, and to tell a support desk what happened) before the hourly
// purge.
const SessionRetention = 30 * 24 * time.Hour

func (s *Service) refreshTTL() time.Duration {
	if s.RefreshTTL > 0 {
		return s.RefreshTTL
	}
	return DefaultRefreshTTL
}

// startSession starts a session for a (a login), with the request's user
// agent and client address, and returns its access and refresh tokens.
func (s *Service) startSession(ctx context.Context, tx db.Tx, a Actor) (Token, error) {
	refresh, hash, err := NewSecretToken()
	if err != nil {
		return Token{}, err
	}
	expires := time.Now().Add(s.refreshTTL())
	addr := ""
	if ip := ClientAddrFrom(ctx); ip.IsValid() {
		addr = ip.Unmap().WithZone("").String()
	}
	if a.SessionID, err = db.CreateSession(ctx, tx, a.IdentityID, string(a.Type), userAgentFrom(ctx), addr, hash, expires); err != nil {
		return Token{}, err
	}
	tok, err := s.issue(a)
	tok.RefreshToken, tok.RefreshExpiresAt = refresh, expires.Truncate(time.Second)
	return tok, err
}

// errBadRefresh is all a client learns of why a refresh token was refused,
// unless it was spent before.
var errBadRefresh = errcode.New(errcode.Unauthorized, "Invalid or expired refresh token; log in again")

// Refresh spends a refresh token and returns a new access token of its
// session and the session's next refresh token. The access token acts as
// the identity's account of the session's type as it is now (a session
// started by register refreshes to the customer created since) with the
// identity's current token generation. A refresh token spent before
// revokes its session, every token of it, and is refused: OAuth 2.1's
// reuse detection, since one of its two holders is not its owner. Returns
// UNAUTHORIZED for a token that is unknown, spent, or of a session that is
// revoked or lapsed.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Token, error) {
	next, nextHash, err := NewSecretToken()
	if err != nil {
		return Token{}, err
	}
	expires := time.Now().Add(s.refreshTTL())
	type result struct {
		tok     Token
		outcome db.RefreshOutcome
	}
	r, err := db.InTx(ctx, s.DB, func(tx db.Tx) (result, error) {
		session, outcome, err := db.SpendRefreshToken(ctx, tx, HashToken(refreshToken), nextHash, expires)
		if err != nil || outcome != db.RefreshRotated {
			// A reuse's revocation commits; the refusal follows.
			return result{outcome: outcome}, err
		}
		identity, err := db.IdentityByID(ctx, tx, session.IdentityID)
		if err != nil {
			return result{}, err
		}
		a := actorOf(identity, ActorType(session.ActorType))
		a.SessionID = session.ID
		tok, err := s.issue(a)
		tok.RefreshToken, tok.RefreshExpiresAt = next, expires.Truncate(time.Second)
		return result{tok: tok, outcome: outcome}, err
	})
	switch {
	case err != nil:
		return Token{}, err
	case r.outcome == db.RefreshReused:
		return Token{}, errcode.New(errcode.Unauthorized, "This refresh token was used before: its session is ended, every token of it with it; log in again")
	case r.outcome != db.RefreshRotated:
		return Token{}, errBadRefresh
	}
	return r.tok, nil
}

// errNoSession refuses session operations to a token issued before
// sessions, which has none to act on.
func errNoSession() error {
	return errcode.New(errcode.NotAllowed, "This token was issued before sessions and has none; use logout_everywhere, or log in again")
}

// Logout revokes the session of the request's token: its access tokens
// are refused from the next request on, its refresh token for good.
// Returns UNAUTHORIZED without a token that stands.
func (s *Service) Logout(ctx context.Context) error {
	a, err := ActorFrom(ctx)
	if err != nil {
		return err
	}
	if a.SessionID == "" {
		return errNoSession()
	}
	_, err = db.InTx(ctx, s.DB, func(tx db.Tx) (bool, error) { return db.RevokeSession(ctx, tx, a.SessionID, db.RevokedLogout) })
	return err
}

// LogoutEverywhere revokes every session of the request's identity, the
// current one included, and moves its token generation on, which ends
// tokens issued before sessions too. Returns how many sessions it ended.
func (s *Service) LogoutEverywhere(ctx context.Context) (int, error) {
	a, err := ActorFrom(ctx)
	if err != nil {
		return 0, err
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (int, error) {
		n, err := db.RevokeSessions(ctx, tx, a.IdentityID, "", db.RevokedLogoutEverywhere)
		if err != nil {
			return 0, err
		}
		return int(n), db.EndTokenGeneration(ctx, tx, a.IdentityID)
	})
}

// Sessions returns the standing sessions of the request's identity, newest
// first, the request's own marked current. Returns UNAUTHORIZED without a
// token that stands.
func (s *Service) Sessions(ctx context.Context) ([]*db.Session, error) {
	a, err := ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	return db.ActiveSessions(ctx, s.conn(ctx), a.IdentityID, a.SessionID)
}

// ChangePassword replaces the password of the request's identity, given
// its current one, and returns a new access token of the current session:
// the identity's token generation moves on, which ends every token issued
// before, and every other session is revoked, while this one goes on (its
// refresh token stays as it is). Unused reset tokens and queued reset
// requests are dropped. Each check of the current password counts as a
// login attempt (README.md, "Login throttling"). Returns UNAUTHORIZED
// without a token that stands, INVALID_DATA for a wrong current password
// or a bad new one, and RATE_LIMITED past the login limits.
func (s *Service) ChangePassword(ctx context.Context, current, next string) (Token, error) {
	a, err := ActorFrom(ctx)
	if err != nil {
		return Token{}, err
	}
	if err := CheckPassword("new_password", next); err != nil {
		return Token{}, err
	}
	if current == next {
		return Token{}, errcode.Invalid("new_password", "new_password must differ from the current password")
	}
	identity, err := db.IdentityByID(ctx, s.conn(ctx), a.IdentityID)
	if err != nil {
		return Token{}, err
	}
	account, address := accountKey(identity.Email), addressKey(ClientAddrFrom(ctx))
	verdict, err := db.CountLoginAttempt(ctx, s.conn(ctx), account, address, s.Policy())
	if err != nil {
		return Token{}, err
	}
	if verdict.Wait > 0 {
		return Token{}, errcode.Limited(verdict.Wait, "Too many password checks; try again in %d seconds", errcode.RetryAfterSeconds(verdict.Wait))
	}
	if ok, err := s.Hasher.Verify(ctx, current, identity.PasswordHash); err != nil {
		return Token{}, err
	} else if !ok {
		return Token{}, errcode.Invalid("current_password", "current_password is not the account's password")
	}
	hash, err := s.Hasher.Hash(ctx, next)
	if err != nil {
		return Token{}, err
	}
	return db.InTx(ctx, s.DB, func(tx db.Tx) (Token, error) {
		// The password checked must still be the identity's: of two
		// changes at once, the second finds the first's and is refused.
		locked, err := db.LockIdentity(ctx, tx, identity.ID)
		if err != nil {
			return Token{}, err
		}
		if locked.PasswordHash != identity.PasswordHash {
			return Token{}, errcode.Invalid("current_password", "current_password is not the account's password")
		}
		if err := db.MarkPasswordChange(ctx, tx); err != nil {
			return Token{}, err
		}
		if err := db.SetPassword(ctx, tx, identity.ID, hash); err != nil {
			return Token{}, err
		}
		if _, err := db.RevokeSessions(ctx, tx, identity.ID, a.SessionID, db.RevokedPasswordChanged); err != nil {
			return Token{}, err
		}
		if err := db.DropResetTokens(ctx, tx, identity.ID); err != nil {
			return Token{}, err
		}
		if err := db.DropResetRequests(ctx, tx, identity.Email); err != nil {
			return Token{}, err
		}
		now, err := db.IdentityByID(ctx, tx, identity.ID)
		if err != nil {
			return Token{}, err
		}
		a.Generation = now.TokenGeneration
		return s.issue(a)
	})
}
