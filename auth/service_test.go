package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"testing"
	"time"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/errcode"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// service is an auth.Service on a database of its own, with the default
// login policy.
func service(tb testing.TB) *auth.Service {
	tb.Helper()
	pool := dbtest.New(tb)
	hasher, err := auth.NewHasher()
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := auth.NewTokens([]byte("a test secret of at least 32 bytes!!"), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return &auth.Service{DB: pool, Hasher: hasher, Tokens: tokens}
}

// from is a request's context from a client address.
func from(addr string) context.Context {
	return auth.WithClientAddr(context.Background(), netip.MustParseAddr(addr))
}

// wantCode checks an error's code and, unless empty, its message.
func wantCode(tb testing.TB, err error, code errcode.Code, message string) {
	tb.Helper()
	var e *errcode.Error
	if !errors.As(err, &e) || e.Code != code || (message != "" && e.Message != message) {
		tb.Errorf("error %#v, want %s %q", err, code, message)
	}
}

const wrongLogin = "Invalid email or password"

// register creates an identity with a password and returns its token.
func register(tb testing.TB, s *auth.Service, t auth.ActorType, email, password string) auth.Token {
	tb.Helper()
	tok, err := s.Register(context.Background(), t, email, password)
	if err != nil {
		tb.Fatalf("register %s: %v", email, err)
	}
	return tok
}

func TestRegisterAndLogin(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := from("198.51.100.7")
	tok := register(t, s, auth.Customer, "  Ada@Example.COM ", "ada's password")
	actor, err := s.Tokens.Verify(tok.Token)
	if err != nil || actor.Type != auth.Customer || actor.ID != "" || actor.IdentityID == "" {
		t.Errorf("a new identity's token: %+v, %v; want an unlinked customer token", actor, err)
	}
	_, err = s.Register(ctx, auth.User, "ada@example.com", "another password")
	wantCode(t, err, errcode.Unauthorized, "Identity with email already exists")
	_, err = s.Register(ctx, auth.Customer, "not an email", "a long password")
	wantCode(t, err, errcode.InvalidData, "")
	_, err = s.Register(ctx, auth.Customer, "short@example.com", "seven77")
	wantCode(t, err, errcode.InvalidData, "password must be at least 8 characters")

	// The email is found whatever its case and spaces.
	got, err := s.Login(ctx, auth.Customer, "ADA@example.com ", "ada's password")
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if a, err := s.Tokens.Verify(got.Token); err != nil || a.IdentityID != actor.IdentityID || a.ID != "" {
		t.Errorf("login token %+v, %v; want the identity, unlinked", a, err)
	}
	if !got.ExpiresAt.After(time.Now()) {
		t.Errorf("token expires at %v", got.ExpiresAt)
	}
	_, err = s.Login(ctx, auth.Customer, "ada@example.com", "ada's passworD")
	wantCode(t, err, errcode.Unauthorized, wrongLogin)
	_, err = s.Login(ctx, auth.Customer, "nobody@example.com", "ada's password")
	wantCode(t, err, errcode.Unauthorized, wrongLogin)
}

// An unknown email and a wrong password cost the same statements and the
// same password check, and answer alike, so neither the answer nor the
// work tells which emails have an identity (README, "Login throttling").
func TestLoginDoesEqualWorkForUnknownEmailAndWrongPassword(t *testing.T) {
	t.Parallel()
	s := service(t)
	register(t, s, auth.Customer, "known@example.com", "the password")
	statements := func(email string) int64 {
		ctx, counter := db.WithCounter(from("198.51.100.8"))
		_, err := s.Login(ctx, auth.Customer, email, "a wrong password")
		wantCode(t, err, errcode.Unauthorized, wrongLogin)
		return counter.Count()
	}
	known, unknown := statements("known@example.com"), statements("unknown@example.com")
	if known != unknown || known != 2 {
		t.Errorf("a wrong password costs %d statements, an unknown email %d; want 2 each (count the attempt, read the identity)", known, unknown)
	}
}

// The login limits of README's table, each at its boundary: the attempt
// that reaches a limit is checked, the next is refused without a check.
func TestLoginLimitsAtTheirBoundaries(t *testing.T) {
	t.Parallel()
	t.Run("10 per address and account", func(t *testing.T) {
		t.Parallel()
		s := service(t)
		register(t, s, auth.Customer, "pair@example.com", "right password")
		ctx := from("198.51.100.10")
		for i := range 10 {
			_, err := s.Login(ctx, auth.Customer, "pair@example.com", "wrong password")
			wantCode(t, err, errcode.Unauthorized, wrongLogin)
			if t.Failed() {
				t.Fatalf("attempt %d of 10 was not checked", i+1)
			}
		}
		_, err := s.Login(ctx, auth.Customer, "pair@example.com", "right password")
		wantCode(t, err, errcode.RateLimited, "")
		var e *errcode.Error
		if errors.As(err, &e) && (e.RetryAfter <= 0 || e.RetryAfter > 15*time.Minute) {
			t.Errorf("retry after %v, want within the 15-minute window", e.RetryAfter)
		}
		// Another address still gets in: the limit is the pair's.
		if _, err := s.Login(from("198.51.100.11"), auth.Customer, "pair@example.com", "right password"); err != nil {
			t.Errorf("another address: %v", err)
		}
	})
	t.Run("100 per address", func(t *testing.T) {
		t.Parallel()
		s := service(t)
		ctx := from("198.51.100.20")
		for i := range 100 {
			_, err := s.Login(ctx, auth.Customer, fmt.Sprintf("scan%d@example.com", i), "a guess")
			wantCode(t, err, errcode.Unauthorized, wrongLogin)
			if t.Failed() {
				t.Fatalf("attempt %d of 100 was not checked", i+1)
			}
		}
		_, err := s.Login(ctx, auth.Customer, "scan100@example.com", "a guess")
		wantCode(t, err, errcode.RateLimited, "")
	})
	t.Run("20 free checks per account from new addresses", func(t *testing.T) {
		t.Parallel()
		s := service(t)
		// The default's free checks, with a first wait long enough that
		// however slowly the machine runs the 21st attempt comes within it.
		s.LoginPolicy = s.Policy()
		s.LoginPolicy.FirstDelay, s.LoginPolicy.MaxDelay = time.Hour, time.Hour
		register(t, s, auth.Customer, "victim@example.com", "right password")
		for i := range 20 {
			_, err := s.Login(from(fmt.Sprintf("203.0.113.%d", i+1)), auth.Customer, "victim@example.com", "a guess")
			wantCode(t, err, errcode.Unauthorized, wrongLogin)
			if t.Failed() {
				t.Fatalf("check %d of 20 was not free", i+1)
			}
		}
		_, err := s.Login(from("203.0.113.100"), auth.Customer, "victim@example.com", "right password")
		wantCode(t, err, errcode.RateLimited, "")
		var e *errcode.Error
		if errors.As(err, &e) && (e.RetryAfter <= 0 || e.RetryAfter > time.Hour) {
			t.Errorf("the first wait is %v, want at most the policy's hour", e.RetryAfter)
		}
	})
	t.Run("a known address is not slowed per account", func(t *testing.T) {
		t.Parallel()
		s := service(t)
		register(t, s, auth.Customer, "owner@example.com", "right password")
		home := from("192.0.2.50")
		if _, err := s.Login(home, auth.Customer, "owner@example.com", "right password"); err != nil {
			t.Fatal(err)
		}
		for i := range 25 {
			_, err := s.Login(from(fmt.Sprintf("203.0.113.%d", i+1)), auth.Customer, "owner@example.com", "a guess")
			if errcode.Of(err) != errcode.Unauthorized && errcode.Of(err) != errcode.RateLimited {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		if _, err := s.Login(home, auth.Customer, "owner@example.com", "right password"); err != nil {
			t.Errorf("the owner, from the address it logged in from: %v", err)
		}
	})
}

// A successful login gives the attempt back to the pair: a customer who
// mistypes 9 times, logs in and mistypes again is not refused.
func TestSuccessfulLoginStartsThePairOver(t *testing.T) {
	t.Parallel()
	s := service(t)
	register(t, s, auth.Customer, "typo@example.com", "right password")
	ctx := from("198.51.100.30")
	for range 9 {
		s.Login(ctx, auth.Customer, "typo@example.com", "wrong password")
	}
	if _, err := s.Login(ctx, auth.Customer, "typo@example.com", "right password"); err != nil {
		t.Fatalf("the 10th attempt, right: %v", err)
	}
	for i := range 10 {
		_, err := s.Login(ctx, auth.Customer, "typo@example.com", "wrong password")
		wantCode(t, err, errcode.Unauthorized, wrongLogin)
		if t.Failed() {
			t.Fatalf("attempt %d after the success was refused", i+1)
		}
	}
}

// tokenContext is a request's context carrying an Authorization header, as
// Middleware leaves it.
func tokenContext(tb testing.TB, s *auth.Service, authorization string) context.Context {
	tb.Helper()
	var ctx context.Context
	h := s.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() }))
	r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	h.ServeHTTP(httptest.NewRecorder(), r)
	return ctx
}

func TestMiddlewareAndRequire(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := context.Background()
	user, err := s.CreateUser(ctx, "boss@example.com", "boss password", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	userTok, err := s.Login(from("192.0.2.1"), auth.User, "boss@example.com", "boss password")
	if err != nil {
		t.Fatal(err)
	}
	unlinked := register(t, s, auth.Customer, "new@example.com", "new password")

	// No header: public operations run; ActorFrom asks for a token.
	none := tokenContext(t, s, "")
	if auth.HasCredential(none) {
		t.Error("no header, yet a credential")
	}
	_, err = auth.ActorFrom(none)
	wantCode(t, err, errcode.Unauthorized, "This operation needs a token: send Authorization: Bearer <token>")

	for _, header := range []string{"Basic " + userTok.Token, "Bearer", "Bearer    ", userTok.Token} {
		c := tokenContext(t, s, header)
		if !auth.HasCredential(c) {
			t.Errorf("%.12q: no credential recorded", header)
		}
		_, err := auth.ActorFrom(c)
		wantCode(t, err, errcode.Unauthorized, `the Authorization header must be "Bearer <token>"`)
	}
	_, err = auth.ActorFrom(tokenContext(t, s, "Bearer not-a-token"))
	wantCode(t, err, errcode.Unauthorized, "Invalid or expired token")

	// The scheme is case-insensitive; the token is checked once per
	// request, however often the actor is asked for.
	c, counter := db.WithCounter(tokenContext(t, s, "bearer  "+userTok.Token+" "))
	for range 3 {
		a, err := auth.Require(c, auth.User)
		if err != nil || a.ID != user.ID {
			t.Fatalf("Require(User) = %+v, %v; want %s", a, err, user.ID)
		}
	}
	if counter.Count() != 1 {
		t.Errorf("the token was checked with %d statements, want 1 for the request", counter.Count())
	}
	_, err = auth.Require(c, auth.Customer)
	wantCode(t, err, errcode.NotAllowed, "This operation is for customer tokens, not admin user tokens")
	_, err = auth.Require(tokenContext(t, s, "Bearer "+unlinked.Token), auth.Customer)
	wantCode(t, err, errcode.NotAllowed, "This token's identity has no customer account yet")
	// An unlinked token still stands for what it may do unlinked.
	if a, err := auth.ActorFrom(tokenContext(t, s, "Bearer "+unlinked.Token)); err != nil || a.ID != "" {
		t.Errorf("an unlinked token: %+v, %v", a, err)
	}
}

// A password reset ends the tokens issued before it, and so does deleting
// the customer a token acts as; the client is told to log in again.
func TestTokensEndWithResetAndCustomer(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := from("192.0.2.2")
	tok := register(t, s, auth.Customer, "shopper@example.com", "old password")
	customer, linked, err := s.CreateCustomerAccount(tokenContext(t, s, "Bearer "+tok.Token), db.CustomerFields{Email: db.To("shopper@example.com")})
	if err != nil {
		t.Fatalf("create customer account: %v", err)
	}
	if a, err := auth.Require(tokenContext(t, s, "Bearer "+linked.Token), auth.Customer); err != nil || a.ID != customer.ID {
		t.Fatalf("the account's token: %+v, %v", a, err)
	}
	// The first token was issued unlinked: the identity has a customer
	// now, so it acts as nobody, and cannot make a second account.
	_, _, err = s.CreateCustomerAccount(tokenContext(t, s, "Bearer "+tok.Token), db.CustomerFields{Email: db.To("shopper@example.com")})
	wantCode(t, err, errcode.NotAllowed, "Request already authenticated as a customer")
	_, _, err = s.CreateCustomerAccount(tokenContext(t, s, "Bearer "+linked.Token), db.CustomerFields{Email: db.To("shopper@example.com")})
	wantCode(t, err, errcode.NotAllowed, "Request already authenticated as a customer")

	if err := s.RequestPasswordReset(ctx, auth.Customer, "shopper@example.com"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.ProcessResetRequests(ctx); err != nil || n != 1 {
		t.Fatalf("processed %d reset requests, %v", n, err)
	}
	reset := resetToken(t, s, "shopper@example.com")
	if err := s.ResetPassword(ctx, reset, "new password"); err != nil {
		t.Fatalf("reset: %v", err)
	}
	_, err = auth.Require(tokenContext(t, s, "Bearer "+linked.Token), auth.Customer)
	wantCode(t, err, errcode.Unauthorized, "This token is no longer valid; log in again")
	wantCode(t, s.ResetPassword(ctx, reset, "third password"), errcode.Unauthorized, "Invalid or expired reset token")
	if _, err := s.Login(ctx, auth.Customer, "shopper@example.com", "old password"); errcode.Of(err) != errcode.Unauthorized {
		t.Errorf("the old password after the reset: %v", err)
	}
	fresh, err := s.Login(ctx, auth.Customer, "shopper@example.com", "new password")
	if err != nil {
		t.Fatalf("the new password: %v", err)
	}
	if a, err := auth.Require(tokenContext(t, s, "Bearer "+fresh.Token), auth.Customer); err != nil || a.ID != customer.ID {
		t.Errorf("a token after the reset: %+v, %v", a, err)
	}
	if _, err := s.DB.Exec(`UPDATE auth_identity SET customer_id = NULL`); err != nil {
		t.Fatal(err)
	}
	_, err = auth.Require(tokenContext(t, s, "Bearer "+fresh.Token), auth.Customer)
	wantCode(t, err, errcode.Unauthorized, "This token is no longer valid; log in again")
}

// resetToken reads the token of the last reset mail queued for email.
func resetToken(tb testing.TB, s *auth.Service, email string) string {
	tb.Helper()
	var tok string
	if err := s.DB.Get(&tok, `SELECT data->>'token' FROM notification WHERE recipient = $1 AND template = 'password_reset' ORDER BY created_at DESC, id DESC LIMIT 1`, email); err != nil {
		tb.Fatalf("no reset mail for %s: %v", email, err)
	}
	return tok
}

// resetMails counts the reset mails queued for email.
func resetMails(tb testing.TB, s *auth.Service, email string) int {
	tb.Helper()
	var n int
	if err := s.DB.Get(&n, `SELECT count(*) FROM notification WHERE recipient = $1 AND template = 'password_reset'`, email); err != nil {
		tb.Fatal(err)
	}
	return n
}

// Reset mails are at most one a minute and five an hour per identity, and
// a request for an unknown email, or a bad one, succeeds and mails nobody.
func TestResetMailLimitsAtTheirBoundaries(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := context.Background()
	register(t, s, auth.Customer, "forgetful@example.com", "a password")
	var id string
	if err := s.DB.Get(&id, `SELECT id FROM auth_identity WHERE email = 'forgetful@example.com'`); err != nil {
		t.Fatal(err)
	}
	// earlier gives the identity reset tokens mailed at these ages.
	earlier := func(ages ...time.Duration) {
		t.Helper()
		if _, err := s.DB.Exec(`DELETE FROM password_reset_token`); err != nil {
			t.Fatal(err)
		}
		for i, age := range ages {
			if _, err := s.DB.Exec(`INSERT INTO password_reset_token (token_hash, auth_identity_id, expires_at, created_at)
				VALUES ($1, $2, now() + interval '1 hour', now() - make_interval(secs => $3))`, fmt.Sprint("old", i), id, age.Seconds()); err != nil {
				t.Fatal(err)
			}
		}
	}
	request := func() int {
		t.Helper()
		before := resetMails(t, s, "forgetful@example.com")
		if err := s.RequestPasswordReset(ctx, auth.Customer, "Forgetful@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ProcessResetRequests(ctx); err != nil {
			t.Fatal(err)
		}
		return resetMails(t, s, "forgetful@example.com") - before
	}
	for _, tt := range []struct {
		name string
		ages []time.Duration
		want int
	}{
		{"none before", nil, 1},
		{"one 50 s ago", []time.Duration{50 * time.Second}, 0},
		{"one 70 s ago", []time.Duration{70 * time.Second}, 1},
		{"four this hour", []time.Duration{10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 40 * time.Minute}, 1},
		{"five this hour", []time.Duration{10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 40 * time.Minute, 50 * time.Minute}, 0},
		{"five, one over an hour ago", []time.Duration{10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 40 * time.Minute, 61 * time.Minute}, 1},
	} {
		earlier(tt.ages...)
		if got := request(); got != tt.want {
			t.Errorf("%s: %d mails, want %d", tt.name, got, tt.want)
		}
	}

	for _, email := range []string{"nobody@example.com", "not an email"} {
		if err := s.RequestPasswordReset(ctx, auth.User, email); err != nil {
			t.Errorf("reset for %q: %v, want the same success as for a known email", email, err)
		}
	}
	if n, err := s.ProcessResetRequests(ctx); err != nil || n != 1 {
		t.Errorf("processed %d requests (%v), want the one for the unknown email, dropped", n, err)
	}
	var mails int
	s.DB.Get(&mails, `SELECT count(*) FROM notification WHERE recipient <> 'forgetful@example.com'`)
	if mails != 0 {
		t.Errorf("%d mails to unknown emails", mails)
	}
	if auth.ResetMailInterval != time.Minute || auth.ResetMailsPerHour != 5 {
		t.Errorf("reset mails: one per %v, %d an hour; README says one a minute, five an hour", auth.ResetMailInterval, auth.ResetMailsPerHour)
	}
}

// A request older than a reset token's life is dropped, not mailed.
func TestStaleResetRequestIsDropped(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := context.Background()
	register(t, s, auth.User, "late@example.com", "a password")
	if err := s.RequestPasswordReset(ctx, auth.User, "late@example.com"); err != nil {
		t.Fatal(err)
	}
	s.DB.MustExec(`UPDATE password_reset_request SET created_at = now() - interval '61 minutes'`)
	if n, err := s.ProcessResetRequests(ctx); err != nil || n != 1 {
		t.Fatalf("processed %d, %v", n, err)
	}
	if n := resetMails(t, s, "late@example.com"); n != 0 {
		t.Errorf("%d mails for a stale request", n)
	}
}

func TestCreateCustomerAccountChecks(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := context.Background()
	fields := db.CustomerFields{Email: db.To("buyer@example.com")}
	_, _, err := s.CreateCustomerAccount(tokenContext(t, s, ""), fields)
	wantCode(t, err, errcode.Unauthorized, "")
	userTok := register(t, s, auth.User, "staff@example.com", "a password")
	_, _, err = s.CreateCustomerAccount(tokenContext(t, s, "Bearer "+userTok.Token), fields)
	wantCode(t, err, errcode.NotAllowed, "Creating a customer account needs a customer token from register or login")
	tok := register(t, s, auth.Customer, "buyer@example.com", "a password")
	_, _, err = s.CreateCustomerAccount(tokenContext(t, s, "Bearer "+tok.Token), db.CustomerFields{Email: db.To("someone@example.com")})
	wantCode(t, err, errcode.InvalidData, "email must be the one the account logs in with: buyer@example.com")
	_, _, err = s.CreateCustomerAccount(tokenContext(t, s, "Bearer "+tok.Token), db.CustomerFields{Email: db.To("bad")})
	wantCode(t, err, errcode.InvalidData, "")
	c, acct, err := s.CreateCustomerAccount(tokenContext(t, s, "Bearer "+tok.Token), db.CustomerFields{Email: db.To("BUYER@example.com")})
	if err != nil || !c.HasAccount || c.Email != "buyer@example.com" {
		t.Fatalf("account: %+v, %v", c, err)
	}
	if a, err := s.Tokens.Verify(acct.Token); err != nil || a.ID != c.ID || a.Type != auth.Customer {
		t.Errorf("the account's token acts as %+v (%v), want %s", a, err, c.ID)
	}
	// A login afterwards acts as the customer too.
	tok2, err := s.Login(from("192.0.2.3"), auth.Customer, "buyer@example.com", "a password")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Tokens.Verify(tok2.Token); a.ID != c.ID {
		t.Errorf("login after the account acts as %q, want %s", a.ID, c.ID)
	}
	// As an admin user the same identity has no account.
	tok3, err := s.Login(from("192.0.2.3"), auth.User, "buyer@example.com", "a password")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Tokens.Verify(tok3.Token); a.ID != "" || a.Type != auth.User {
		t.Errorf("a user login of a customer's identity acts as %+v", a)
	}
	_ = ctx
}

func TestCreateUserSharesAnIdentityOnlyWithItsPassword(t *testing.T) {
	t.Parallel()
	s := service(t)
	ctx := context.Background()
	register(t, s, auth.Customer, "both@example.com", "shared password")
	if _, err := s.CreateUser(ctx, "both@example.com", "not the password", nil, nil); err == nil {
		t.Error("a user was made of another's identity with a wrong password")
	}
	if _, err := s.CreateUser(ctx, "x@example.com", "short", nil, nil); errcode.Of(err) != errcode.InvalidData {
		t.Errorf("short password: %v", err)
	}
	if _, err := s.CreateUser(ctx, "nope", "long enough", nil, nil); errcode.Of(err) != errcode.InvalidData {
		t.Errorf("bad email: %v", err)
	}
	u, err := s.CreateUser(ctx, "both@example.com", "shared password", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Login(from("192.0.2.4"), auth.User, "both@example.com", "shared password")
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := s.Tokens.Verify(tok.Token); a.ID != u.ID {
		t.Errorf("the user's login acts as %q, want %s", a.ID, u.ID)
	}
}

// Policy is the default unless the service is given one.
func TestPolicyDefault(t *testing.T) {
	t.Parallel()
	var s auth.Service
	p := s.Policy()
	if p.PerPair != 10 || p.PerAddress != 100 || p.FreeChecks != 20 || p.Window != 15*time.Minute ||
		p.FirstDelay != time.Second || p.MaxDelay != time.Minute || p.Quiet != 24*time.Hour || p.KnownFor != 30*24*time.Hour {
		t.Errorf("default policy %+v, want README's: 10/100/20 per 15 minutes, waits from 1 s up to a minute, a quiet day starts over, addresses known for 30 days", p)
	}
	s.LoginPolicy = p
	s.LoginPolicy.PerPair = 3
	if s.Policy().PerPair != 3 {
		t.Error("a service's own policy is ignored")
	}
}
