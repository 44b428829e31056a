package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/acme/customerservice/errcode"
)

// credential is what a request's Authorization header established: an
// actor, or why there is none.
type credential struct {
	actor Actor
	err   error
}

type credentialKey struct{}

// Middleware reads "Authorization: Bearer <token>" and puts the actor in
// the request's context. A bad token does not fail the request here: only
// operations that need an actor refuse it, so public ones still work.
func (t *Tokens) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		var cred credential
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			cred.err = errcode.New(errcode.Unauthorized, `the Authorization header must be "Bearer <token>"`)
		} else {
			cred.actor, cred.err = t.Verify(strings.TrimSpace(token))
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), credentialKey{}, cred)))
	})
}

// ActorFrom returns the actor of ctx. Without a token it returns
// UNAUTHORIZED, and so for a token that was refused.
func ActorFrom(ctx context.Context) (Actor, error) {
	cred, ok := ctx.Value(credentialKey{}).(credential)
	if !ok {
		return Actor{}, errcode.New(errcode.Unauthorized, "This operation needs a token: send Authorization: Bearer <token>")
	}
	return cred.actor, cred.err
}

// HasCredential reports whether the request sent a token, good or bad.
func HasCredential(ctx context.Context) bool {
	_, ok := ctx.Value(credentialKey{}).(credential)
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
