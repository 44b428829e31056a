package auth

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"customerservice/db"
	"customerservice/errcode"
)

// credential is what a request's Authorization header established: an
// actor, or why there is none. A token whose signature holds is checked
// against its identity once, when the request first needs its actor.
type credential struct {
	actor Actor
	err   error
	// check confirms that a signed token still stands; nil when there is
	// nothing left to check.
	check func(context.Context, Actor) error
	once  sync.Once
}

type credentialKey struct{}

type userAgentKey struct{}

// userAgentFrom returns the User-Agent the request sent, which a session
// started by it keeps for my_sessions.
func userAgentFrom(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey{}).(string)
	return ua
}

// Middleware reads "Authorization: Bearer <token>" and puts the actor in
// the request's context. A bad token does not fail the request here: only
// operations that need an actor refuse it, so public ones still work. Nor
// is the database asked here: the first operation that needs the actor
// checks, once for the request, that the token still stands.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ua := r.Header.Get("User-Agent"); ua != "" {
			r = r.WithContext(context.WithValue(r.Context(), userAgentKey{}, ua))
		}
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		cred := &credential{}
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			cred.err = errcode.New(errcode.Unauthorized, `the Authorization header must be "Bearer <token>"`)
		} else if cred.actor, cred.err = s.Tokens.Verify(strings.TrimSpace(token)); cred.err == nil {
			cred.check = s.checkActor
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), credentialKey{}, cred)))
	})
}

// errRevoked refuses a well-signed token that no longer stands; a new
// value each time, so no caller can change the answer for the next.
func errRevoked() error {
	return errcode.New(errcode.Unauthorized, "This token is no longer valid; log in again")
}

// checkActor confirms that a token still stands: its identity has not had
// its password reset or changed since (the generations match), its session
// is not revoked (logout) nor lapsed, and the token's actor is still the
// identity's, so a deleted customer's token reaches nothing. One statement,
// by primary keys.
func (s *Service) checkActor(ctx context.Context, a Actor) error {
	st, err := db.IdentityTokenState(ctx, s.conn(ctx), a.IdentityID, a.SessionID)
	if err != nil {
		return err
	}
	if st == nil || st.Generation != a.Generation || !st.SessionStands {
		return errRevoked()
	}
	if a.ID == "" {
		// Not linked when issued; what it may do is decided against the
		// identity as it is now (see CreateCustomerAccount).
		return nil
	}
	current := st.CustomerID
	if a.Type == User {
		current = st.UserID
	}
	if current == nil || *current != a.ID {
		return errRevoked()
	}
	return nil
}

// ActorFrom returns the actor of ctx. Without a token it returns
// UNAUTHORIZED, and so for a token that was refused or no longer stands.
func ActorFrom(ctx context.Context) (Actor, error) {
	cred, ok := ctx.Value(credentialKey{}).(*credential)
	if !ok {
		return Actor{}, errcode.New(errcode.Unauthorized, "This operation needs a token: send Authorization: Bearer <token>")
	}
	cred.once.Do(func() {
		if cred.check != nil {
			cred.err = cred.check(ctx, cred.actor)
		}
	})
	if cred.err != nil {
		return Actor{}, cred.err
	}
	return cred.actor, nil
}

// HasCredential reports whether the request sent a token, good or bad.
func HasCredential(ctx context.Context) bool {
	_, ok := ctx.Value(credentialKey{}).(*credential)
	return ok
}

// Require returns the actor of ctx when it is a linked actor of type t:
// UNAUTHORIZED without a valid token, NOT_ALLOWED for another actor type or
// for a token whose identity has no such account yet.
func Require(ctx context.Context, t ActorType) (Actor, error) {
	a, err := ActorFrom(ctx)
	if err != nil {
		return Actor{}, err
	}
	if a.Type != t {
		return Actor{}, errcode.New(errcode.NotAllowed, "This operation is for %s tokens, not %s tokens", names[t], names[a.Type])
	}
	if a.ID == "" {
		return Actor{}, errcode.New(errcode.NotAllowed, "This token's identity has no %s account yet", names[t])
	}
	return a, nil
}

var names = map[ActorType]string{Customer: "customer", User: "admin user"}

// Authenticate checks a credential sent outside an HTTP header (a
// WebSocket's connection_init carries "Bearer <token>") as the middleware
// and the first operation would, at once: the token's signature and
// expiry, then that it still stands. It returns a context acting as its
// actor, and when the token expires. Returns UNAUTHORIZED otherwise.
func (s *Service) Authenticate(ctx context.Context, authorization string) (context.Context, Actor, time.Time, error) {
	scheme, token, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return ctx, Actor{}, time.Time{}, errcode.New(errcode.Unauthorized, `send {"Authorization": "Bearer <token>"} in connection_init`)
	}
	actor, expires, err := s.Tokens.verify(strings.TrimSpace(token))
	if err != nil {
		return ctx, Actor{}, time.Time{}, err
	}
	if err := s.checkActor(ctx, actor); err != nil {
		return ctx, Actor{}, time.Time{}, err
	}
	cred := &credential{actor: actor}
	cred.once.Do(func() {}) // checked above
	return context.WithValue(ctx, credentialKey{}, cred), actor, expires, nil
}

// StillStands checks again that a token Authenticate accepted still
// stands (see checkActor): a connection that outlives a password reset or
// a deleted account must not go on. Returns UNAUTHORIZED when it does not.
func (s *Service) StillStands(ctx context.Context, a Actor) error { return s.checkActor(ctx, a) }
