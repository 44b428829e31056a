package graph_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"customerservice/auth"
	"customerservice/gqlws"
)

// Sessions and verified email (issue 16), through the HTTP API.

const (
	loginSessionQ = `mutation ($t: ActorType!, $e: String!, $p: String!) {
		login(actor_type: $t, email: $e, password: $p) { token expires_at refresh_token refresh_token_expires_at session_id } }`
	refreshQ         = `mutation ($r: String!) { refresh_token(refresh_token: $r) { token expires_at refresh_token refresh_token_expires_at session_id } }`
	mySessionsQ      = `{ my_sessions { id actor_type created_at last_used_at expires_at user_agent client_address current } }`
	changePasswordQ  = `mutation ($c: String!, $n: String!) { change_password(current_password: $c, new_password: $n) { token expires_at refresh_token session_id } }`
	verifyEmailQ     = `mutation ($t: String!) { verify_email(token: $t) { email email_verified_at email_changed } }`
	requestChangeQ   = `mutation ($e: String!) { request_email_change(new_email: $e) { new_email expires_at } }`
	meVerifiedQ      = `{ me { id email email_verified email_verified_at } }`
	registerSessionQ = `mutation ($t: ActorType!, $e: String!, $p: String!) { register(actor_type: $t, email: $e, password: $p) { token refresh_token session_id } }`
)

// session is a login's tokens as the API returns them.
type session struct {
	Token                 string     `json:"token"`
	ExpiresAt             time.Time  `json:"expires_at"`
	RefreshToken          string     `json:"refresh_token"`
	RefreshTokenExpiresAt *time.Time `json:"refresh_token_expires_at"`
	SessionID             string     `json:"session_id"`
}

type sessionRow struct {
	ID         string    `json:"id"`
	ActorType  string    `json:"actor_type"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	UserAgent  *string   `json:"user_agent"`
	ClientAddr *string   `json:"client_address"`
	Current    bool      `json:"current"`
}

// loginSession logs in and returns the session's tokens.
func (a *api) loginSession(actorType, email, password string) session {
	a.tb.Helper()
	var got struct{ Login session }
	a.query(loginSessionQ, map[string]any{"t": actorType, "e": email, "p": password}, &got)
	if got.Login.Token == "" || got.Login.RefreshToken == "" || !strings.HasPrefix(got.Login.SessionID, "sess_") {
		a.tb.Fatalf("login: %+v", got.Login)
	}
	return got.Login
}

// refresh spends a refresh token and returns the next tokens.
func (a *api) refresh(refreshToken string) session {
	a.tb.Helper()
	var got struct {
		R session `json:"refresh_token"`
	}
	a.query(refreshQ, map[string]any{"r": refreshToken}, &got)
	return got.R
}

// verifyEmail spends an email token.
func (a *api) verifyEmail(token string) {
	a.tb.Helper()
	a.query(verifyEmailQ, map[string]any{"t": token}, &struct{}{})
}

// mySessions lists the sessions of the token's identity.
func (a *api) mySessions() []sessionRow {
	a.tb.Helper()
	var got struct {
		S []sessionRow `json:"my_sessions"`
	}
	a.query(mySessionsQ, nil, &got)
	return got.S
}

// mailedToken returns the token of the newest mail of template to a
// recipient in the outbox.
func (a *api) mailedToken(template, recipient string) string {
	a.tb.Helper()
	var tok string
	if err := a.pool.Get(&tok, `SELECT data->>'token' FROM notification WHERE template = $1 AND recipient = $2
		ORDER BY created_at DESC, id DESC LIMIT 1`, template, recipient); err != nil {
		a.tb.Fatalf("no %s mail to %s: %v", template, recipient, err)
	}
	return tok
}

// mails counts the outbox's mails of template to a recipient.
func (a *api) mails(template, recipient string) int {
	a.tb.Helper()
	var n int
	a.pool.Get(&n, `SELECT count(*) FROM notification WHERE template = $1 AND recipient = $2`, template, recipient)
	return n
}

// ageEmailTokens moves every email token two minutes into the past, past
// the minute between mails of the throttle.
func (a *api) ageEmailTokens() {
	a.tb.Helper()
	a.exec(`UPDATE email_token SET created_at = created_at - interval '2 minutes'`)
}

// meVerified is the signed-in customer's email and its verification.
type meVerified struct {
	ID              string     `json:"id"`
	Email           string     `json:"email"`
	EmailVerified   bool       `json:"email_verified"`
	EmailVerifiedAt *time.Time `json:"email_verified_at"`
}

func (a *api) meVerified() meVerified {
	a.tb.Helper()
	var got struct{ Me meVerified }
	a.query(meVerifiedQ, nil, &got)
	return got.Me
}

// refused checks that a token is refused as one that no longer stands.
func (a *api) refused(what string) {
	a.tb.Helper()
	resp := a.do(`{ my_sessions { id } }`, nil)
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "UNAUTHORIZED" {
		a.tb.Errorf("%s: the token was not refused: %+v %s", what, resp.Errors, resp.Data)
	}
}

func TestRefreshTokenRotatesAndReuseEndsTheSession(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	_, id := a.signUp("rot@example.com", "rotating password")
	first := a.as("").loginSession("CUSTOMER", "rot@example.com", "rotating password")
	if d := time.Until(*first.RefreshTokenExpiresAt); d < 29*24*time.Hour {
		t.Errorf("the refresh token lapses in %v, want 30 days", d)
	}
	second := a.as("").refresh(first.RefreshToken)
	if second.SessionID != first.SessionID || second.RefreshToken == first.RefreshToken || second.Token == "" {
		t.Fatalf("refresh: %+v after %+v", second, first)
	}
	if me := a.as(second.Token).meVerified(); me.ID != id {
		t.Errorf("the refreshed token acts as %s, want %s", me.ID, id)
	}
	// Refresh tokens are stored only as hashes.
	var plain int
	a.pool.Get(&plain, `SELECT count(*) FROM refresh_token WHERE token_hash IN ($1, $2)`, first.RefreshToken, second.RefreshToken)
	if plain != 0 {
		t.Error("a refresh token is stored as it is")
	}
	// The first refresh token, used again: refused, and its whole family
	// with it: the session's current refresh token and access token.
	err := a.as("").fail(refreshQ, map[string]any{"r": first.RefreshToken})
	wantError(t, err, "UNAUTHORIZED", "unauthorized", "This refresh token was used before: its session is ended, every token of it with it; log in again")
	wantError(t, a.as("").fail(refreshQ, map[string]any{"r": second.RefreshToken}), "UNAUTHORIZED", "unauthorized", "Invalid or expired refresh token; log in again")
	a.as(second.Token).refused("the access token of a session ended by reuse")
	var reason string
	a.pool.Get(&reason, `SELECT revoked_reason FROM auth_session WHERE id = $1`, first.SessionID)
	if reason != "refresh_token_reused" {
		t.Errorf("revoked_reason = %q", reason)
	}
	// Unknown and lapsed refresh tokens.
	wantError(t, a.as("").fail(refreshQ, map[string]any{"r": "not a token"}), "UNAUTHORIZED", "unauthorized", "Invalid or expired refresh token; log in again")
	lapsed := a.as("").loginSession("CUSTOMER", "rot@example.com", "rotating password")
	a.exec(`UPDATE auth_session SET expires_at = now() - interval '1 second' WHERE id = $1`, lapsed.SessionID)
	wantError(t, a.as("").fail(refreshQ, map[string]any{"r": lapsed.RefreshToken}), "UNAUTHORIZED", "unauthorized", "Invalid or expired refresh token; log in again")
	a.as(lapsed.Token).refused("the access token of a lapsed session")
	// The others sessions of the identity stand.
	other := a.as("").loginSession("CUSTOMER", "rot@example.com", "rotating password")
	a.as("").refresh(other.RefreshToken)
}

// TestRefreshTokenRace presents one refresh token many times at once: one
// refresh wins, the others are reuses, and the session ends.
func TestRefreshTokenRace(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.signUp("race.refresh@example.com", "racing password")
	s := a.as("").loginSession("CUSTOMER", "race.refresh@example.com", "racing password")
	const n = 8
	results := released(n, func(int) response { return a.as("").do(refreshQ, map[string]any{"r": s.RefreshToken}) })
	ok := 0
	var won session
	for i, r := range results {
		switch {
		case len(r.Errors) == 0:
			ok++
			var got struct {
				R session `json:"refresh_token"`
			}
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatal(err)
			}
			won = got.R
		case r.Errors[0].Extensions["code"] == "UNAUTHORIZED":
		default:
			t.Errorf("refresh %d: %+v", i, r.Errors)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent refreshes with one token succeeded, want 1", ok, n)
	}
	// The reuse ended the session: the winner's tokens too.
	a.as(won.Token).refused("the winner's access token")
	if r := a.as("").do(refreshQ, map[string]any{"r": won.RefreshToken}); len(r.Errors) != 1 {
		t.Errorf("the winner's refresh token still works: %s", r.Data)
	}
}

// released sends n requests that wait for one another and start together,
// so that they contend, and returns their responses in order.
func released(n int, request func(i int) response) []response {
	results := make([]response, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			results[i] = request(i)
		})
	}
	ready.Wait()
	close(start)
	done.Wait()
	return results
}

func TestLogoutAndMySessions(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	_, id := a.signUp("two.devices@example.com", "two devices password")
	phone := a.as("").from("203.0.113.7:5000", "")
	phone.userAgent = "ShopApp/2.1 (iPhone)"
	onPhone := phone.loginSession("CUSTOMER", "two.devices@example.com", "two devices password")
	laptop := a.as("")
	laptop.userAgent = "Mozilla/5.0 (X11; Linux x86_64)"
	onLaptop := laptop.loginSession("CUSTOMER", "two.devices@example.com", "two devices password")

	// my_sessions: the identity's standing sessions, newest first, the
	// caller's marked current; the register session too.
	list := a.as(onPhone.Token).mySessions()
	if len(list) != 3 || list[0].ID != onLaptop.SessionID || list[1].ID != onPhone.SessionID || list[0].Current || !list[1].Current ||
		str(list[0].UserAgent) != "Mozilla/5.0 (X11; Linux x86_64)" || str(list[1].UserAgent) != "ShopApp/2.1 (iPhone)" ||
		list[0].ActorType != "CUSTOMER" || str(list[1].ClientAddr) != "203.0.113.7" || list[0].CreatedAt.IsZero() || list[0].LastUsedAt.Before(list[0].CreatedAt) {
		t.Fatalf("my_sessions = %+v", list)
	}
	// No secret is reachable: the type has no such field.
	resp := a.as(onPhone.Token).do(`{ my_sessions { refresh_token } }`, nil)
	if len(resp.Errors) == 0 {
		t.Error("my_sessions shows a refresh_token field")
	}

	// logout ends the phone's session at once: its access token and its
	// refresh token; the laptop's goes on.
	var out struct{ Logout bool }
	a.as(onPhone.Token).query(`mutation { logout }`, nil, &out)
	if !out.Logout {
		t.Error("logout answered false")
	}
	a.as(onPhone.Token).refused("the access token of a session that logged out")
	wantError(t, a.as("").fail(refreshQ, map[string]any{"r": onPhone.RefreshToken}), "UNAUTHORIZED", "unauthorized", "")
	if me := a.as(onLaptop.Token).meVerified(); me.ID != id {
		t.Errorf("the other session's token acts as %q", me.ID)
	}
	if list := a.as(onLaptop.Token).mySessions(); len(list) != 2 || !list[0].Current {
		t.Errorf("after logout, my_sessions = %+v", list)
	}

	// logout_everywhere ends every session of the identity, the caller's too.
	var everywhere struct {
		N int `json:"logout_everywhere"`
	}
	a.as(onLaptop.Token).query(`mutation { logout_everywhere }`, nil, &everywhere)
	if everywhere.N != 2 {
		t.Errorf("logout_everywhere ended %d sessions, want 2", everywhere.N)
	}
	a.as(onLaptop.Token).refused("the access token after logout_everywhere")
	wantError(t, a.as("").fail(refreshQ, map[string]any{"r": onLaptop.RefreshToken}), "UNAUTHORIZED", "unauthorized", "")
	a.as(a.login("CUSTOMER", "two.devices@example.com", "two devices password")).meVerified()
}

// TestSessionsAuthorization is the matrix of the session and email
// operations: anonymous, a customer, another customer, an admin user.
func TestSessionsAuthorization(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	aliceToken, _ := a.signUp("alice.s@example.com", "alice's password")
	bobToken, _ := a.signUp("bob.s@example.com", "bob's password")
	alice, bob, admin, anon := a.as(aliceToken), a.as(bobToken), a, a.as("")

	for _, q := range []string{`{ my_sessions { id } }`, `mutation { logout }`, `mutation { logout_everywhere }`,
		`mutation { change_password(current_password: "x", new_password: "a long new password") { token } }`,
		`mutation { request_email_verification }`, `mutation { request_email_change(new_email: "x@example.com") { new_email } }`} {
		wantError(t, anon.fail(q, nil), "UNAUTHORIZED", "unauthorized", "")
	}
	// Each sees its own sessions only.
	own := func(who *api, n int) {
		t.Helper()
		list := who.mySessions()
		var ids []string
		who.pool.Select(&ids, `SELECT s.id FROM auth_session s JOIN auth_identity i ON i.id = s.auth_identity_id
			WHERE i.email = $1`, emailOf(t, who))
		mine := map[string]bool{}
		for _, id := range ids {
			mine[id] = true
		}
		if len(list) != n {
			t.Errorf("%d sessions listed, want %d", len(list), n)
		}
		for _, s := range list {
			if !mine[s.ID] {
				t.Errorf("a session of another identity is listed: %s", s.ID)
			}
		}
	}
	own(alice, 1)
	own(bob, 1)
	own(admin, 1)
	if list := admin.mySessions(); list[0].ActorType != "USER" || !list[0].Current {
		t.Errorf("the admin's sessions: %+v", list)
	}
	// Bob's logout ends Bob's session, not Alice's.
	bob.query(`mutation { logout }`, nil, &struct{}{})
	alice.meVerified()
	// An admin user changes its own password, not a customer's; and has
	// no customer email to change.
	var changed struct {
		C session `json:"change_password"`
	}
	admin.query(changePasswordQ, map[string]any{"c": "admin password", "n": "a new admin password"}, &changed)
	a.as(changed.C.Token).query(`{ customers { count } }`, nil, &struct{}{})
	wantError(t, a.as(changed.C.Token).fail(requestChangeQ, map[string]any{"e": "admin2@example.com"}), "NOT_ALLOWED", "not_allowed", "")
	alice.meVerified()
	// request_email_change needs a customer account: a token from register
	// has none yet.
	fresh := anon.register("CUSTOMER", "fresh.s@example.com", "fresh password")
	wantError(t, a.as(fresh).fail(requestChangeQ, map[string]any{"e": "fresh2@example.com"}), "NOT_ALLOWED", "not_allowed", "")
}

// emailOf is the login email of the api's token.
func emailOf(t *testing.T, a *api) string {
	t.Helper()
	id, err := a.auth.Tokens.Verify(a.token)
	if err != nil {
		t.Fatal(err)
	}
	var email string
	a.pool.Get(&email, `SELECT email FROM auth_identity WHERE id = $1`, id.IdentityID)
	return email
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.signUp("changer@example.com", "the first password")
	here := a.as("").loginSession("CUSTOMER", "changer@example.com", "the first password")
	there := a.as("").loginSession("CUSTOMER", "changer@example.com", "the first password")
	me := a.as(here.Token)

	wantError(t, me.fail(changePasswordQ, map[string]any{"c": "a wrong password", "n": "the second password"}), "INVALID_DATA", "invalid_data", "current_password is not the account's password")
	wantError(t, me.fail(changePasswordQ, map[string]any{"c": "the first password", "n": "short"}), "INVALID_DATA", "invalid_data", "")
	wantError(t, me.fail(changePasswordQ, map[string]any{"c": "the first password", "n": "the first password"}), "INVALID_DATA", "invalid_data", "")
	var got struct {
		C session `json:"change_password"`
	}
	me.query(changePasswordQ, map[string]any{"c": "the first password", "n": "the second password"}, &got)
	if got.C.SessionID != here.SessionID || got.C.RefreshToken != "" || got.C.Token == "" {
		t.Fatalf("change_password: %+v", got.C)
	}
	// The current session goes on: with the new access token, and its
	// refresh token; the old access token is refused (the generation moved).
	a.as(got.C.Token).meVerified()
	me.refused("the access token from before the change")
	next := a.as("").refresh(here.RefreshToken)
	a.as(next.Token).meVerified()
	// The other session is over.
	a.as(there.Token).refused("another session's access token")
	wantError(t, a.as("").fail(refreshQ, map[string]any{"r": there.RefreshToken}), "UNAUTHORIZED", "unauthorized", "")
	// The new password logs in, the old one does not.
	a.login("CUSTOMER", "changer@example.com", "the second password")
	wantError(t, a.as("").fail(loginSessionQ, map[string]any{"t": "CUSTOMER", "e": "changer@example.com", "p": "the first password"}), "UNAUTHORIZED", "unauthorized", "")
	// A reset link mailed before the change no longer works.
	tok := a.resetToken("changer@example.com")
	a.as(next.Token).query(changePasswordQ, map[string]any{"c": "the second password", "n": "the third password"}, &got)
	wantError(t, a.as("").fail(`mutation ($t: String!) { reset_password(token: $t, password: "a fourth password") }`, map[string]any{"t": tok}), "UNAUTHORIZED", "unauthorized", "")
}

// TestRegisterStartsASession: register returns a refresh token, and the
// session goes on as the customer once create_customer_account made it.
func TestRegisterStartsASession(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var reg struct{ Register session }
	a.as("").query(registerSessionQ, map[string]any{"t": "CUSTOMER", "e": "newbie@example.com", "p": "newbie password"}, &reg)
	if reg.Register.RefreshToken == "" || reg.Register.SessionID == "" {
		t.Fatalf("register: %+v", reg.Register)
	}
	var acc struct {
		A struct {
			Customer struct{ ID string }
			Token    session
		} `json:"create_customer_account"`
	}
	a.as(reg.Register.Token).query(`mutation { create_customer_account(input: {email: "newbie@example.com"}) { customer { id } token { token refresh_token session_id } } }`, nil, &acc)
	if acc.A.Token.SessionID != reg.Register.SessionID || acc.A.Token.RefreshToken != "" {
		t.Errorf("create_customer_account's token: %+v", acc.A.Token)
	}
	next := a.as("").refresh(reg.Register.RefreshToken)
	if me := a.as(next.Token).meVerified(); me.ID != acc.A.Customer.ID {
		t.Errorf("the refreshed register session acts as %q, want %s", me.ID, acc.A.Customer.ID)
	}
}

// TestTokensWithoutSession: a token issued before sessions (no sid) keeps
// working until it expires; logout cannot end it, logout_everywhere does.
func TestTokensWithoutSession(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	_, id := a.signUp("old.client@example.com", "old client password")
	var identity struct {
		ID  string `db:"id"`
		Gen int    `db:"token_generation"`
	}
	a.pool.Get(&identity, `SELECT id, token_generation FROM auth_identity WHERE email = 'old.client@example.com'`)
	old, _, err := a.auth.Tokens.Issue(auth.Actor{Type: auth.Customer, ID: id, IdentityID: identity.ID, Generation: identity.Gen})
	if err != nil {
		t.Fatal(err)
	}
	if me := a.as(old).meVerified(); me.ID != id {
		t.Fatalf("an old token acts as %q", me.ID)
	}
	wantError(t, a.as(old).fail(`mutation { logout }`, nil), "NOT_ALLOWED", "not_allowed", "")
	a.as(old).query(`mutation { logout_everywhere }`, nil, &struct{}{})
	a.as(old).refused("an old token after logout_everywhere")
}

func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tok, id := a.signUp("Verify.Me@example.com", "verify password")
	me := a.as(tok)
	if got := me.meVerified(); got.EmailVerified || got.EmailVerifiedAt != nil || got.ID != id {
		t.Fatalf("before verification: %+v", got)
	}
	// The mail went through the outbox, written with the identity; the
	// token itself is stored only as its hash.
	if n := a.mails("email_verification", "verify.me@example.com"); n != 1 {
		t.Fatalf("%d verification mails, want 1", n)
	}
	token := a.mailedToken("email_verification", "verify.me@example.com")
	var stored int
	a.pool.Get(&stored, `SELECT count(*) FROM email_token WHERE token_hash = $1`, token)
	if stored != 0 {
		t.Error("an email token is stored as it is")
	}
	wantError(t, a.as("").fail(verifyEmailQ, map[string]any{"t": "a made-up token"}), "UNAUTHORIZED", "unauthorized", "Invalid or expired email token")
	var got struct {
		V struct {
			Email           string    `json:"email"`
			EmailVerifiedAt time.Time `json:"email_verified_at"`
			EmailChanged    bool      `json:"email_changed"`
		} `json:"verify_email"`
	}
	a.as("").query(verifyEmailQ, map[string]any{"t": token}, &got)
	if got.V.Email != "verify.me@example.com" || got.V.EmailChanged || got.V.EmailVerifiedAt.IsZero() {
		t.Errorf("verify_email = %+v", got.V)
	}
	if v := me.meVerified(); !v.EmailVerified || v.EmailVerifiedAt == nil || !v.EmailVerifiedAt.Equal(got.V.EmailVerifiedAt) {
		t.Errorf("after verification: %+v", v)
	}
	// The admin reads it on the customer too.
	var adm struct {
		C meVerified `json:"customer"`
	}
	a.query(`query ($id: ID!) { customer(id: $id) { id email email_verified email_verified_at } }`, map[string]any{"id": id}, &adm)
	if !adm.C.EmailVerified {
		t.Errorf("the admin's view: %+v", adm.C)
	}
	// Single use.
	wantError(t, a.as("").fail(verifyEmailQ, map[string]any{"t": token}), "UNAUTHORIZED", "unauthorized", "Invalid or expired email token")
	// Once verified, asking again mails nothing.
	var again struct {
		R bool `json:"request_email_verification"`
	}
	me.query(`mutation { request_email_verification }`, nil, &again)
	if again.R || a.mails("email_verification", "verify.me@example.com") != 1 {
		t.Errorf("request_email_verification when verified: %v", again.R)
	}
	// A guest is never verified.
	guest := a.as("").placeOrder(orderInput("verify.me@example.com", 100))
	var g struct {
		C meVerified `json:"customer"`
	}
	a.query(`query ($id: ID!) { customer(id: $id) { id email_verified email_verified_at } }`, map[string]any{"id": guest.Customer.ID}, &g)
	if g.C.EmailVerified || g.C.EmailVerifiedAt != nil {
		t.Errorf("a guest: %+v", g.C)
	}
}

func TestVerifyEmailExpiredAndThrottled(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tok, _ := a.signUp("late@example.com", "late password")
	me := a.as(tok)
	token := a.mailedToken("email_verification", "late@example.com")
	a.exec(`UPDATE email_token SET expires_at = now() - interval '1 second'`)
	wantError(t, a.as("").fail(verifyEmailQ, map[string]any{"t": token}), "UNAUTHORIZED", "unauthorized", "Invalid or expired email token")
	// A new one, but not within a minute of the last mail.
	err := me.fail(`mutation { request_email_verification }`, nil)
	wantError(t, err, "RATE_LIMITED", "", "")
	if err.Extensions["retry_after"] == nil {
		t.Errorf("no retry_after: %+v", err)
	}
	a.ageEmailTokens()
	var got struct {
		R bool `json:"request_email_verification"`
	}
	me.query(`mutation { request_email_verification }`, nil, &got)
	if !got.R || a.mails("email_verification", "late@example.com") != 2 {
		t.Fatalf("request_email_verification: %v", got.R)
	}
	// Five an hour.
	for range 3 {
		a.ageEmailTokens()
		me.query(`mutation { request_email_verification }`, nil, &got)
	}
	a.exec(`UPDATE email_token SET created_at = now() - interval '5 minutes'`)
	wantError(t, me.fail(`mutation { request_email_verification }`, nil), "RATE_LIMITED", "", "")
	a.verifyEmail(a.mailedToken("email_verification", "late@example.com"))
	if !me.meVerified().EmailVerified {
		t.Error("the newest token did not verify")
	}
}

func TestEmailChange(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tok, id := a.signUp("before@example.com", "change password")
	me := a.as(tok)
	a.signUp("taken@example.com", "taken password")
	a.as("").placeOrder(orderInput("guest.has.it@example.com", 100)) // a guest's email is free to take

	for _, c := range []struct{ email, code string }{
		{"not an email", "INVALID_DATA"},
		{"BEFORE@example.com", "INVALID_DATA"},
		{"Taken@Example.com", "DUPLICATE_ERROR"},
		{"admin@example.com", "DUPLICATE_ERROR"},
	} {
		wantError(t, me.fail(requestChangeQ, map[string]any{"e": c.email}), c.code, "", "")
	}
	a.ageEmailTokens()
	var req struct {
		R struct {
			NewEmail  string    `json:"new_email"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"request_email_change"`
	}
	me.query(requestChangeQ, map[string]any{"e": "Guest.Has.It@example.com"}, &req)
	if req.R.NewEmail != "guest.has.it@example.com" || time.Until(req.R.ExpiresAt) > time.Hour || time.Until(req.R.ExpiresAt) < 50*time.Minute {
		t.Errorf("request_email_change = %+v", req.R)
	}
	// Throttled like reset mails.
	wantError(t, me.fail(requestChangeQ, map[string]any{"e": "other@example.com"}), "RATE_LIMITED", "", "")
	// Nothing changed yet.
	if got := me.meVerified(); got.Email != "before@example.com" {
		t.Fatalf("the email changed before the token was used: %+v", got)
	}
	token := a.mailedToken("email_change", "guest.has.it@example.com")
	var got struct {
		V struct {
			Email        string `json:"email"`
			EmailChanged bool   `json:"email_changed"`
		} `json:"verify_email"`
	}
	a.as("").query(verifyEmailQ, map[string]any{"t": token}, &got)
	if got.V.Email != "guest.has.it@example.com" || !got.V.EmailChanged {
		t.Errorf("verify_email with a change token = %+v", got.V)
	}
	if v := me.meVerified(); v.Email != "guest.has.it@example.com" || !v.EmailVerified || v.ID != id {
		t.Errorf("after the change: %+v", v)
	}
	// The old address is told, without a token.
	var told struct {
		N    int    `db:"n"`
		Data string `db:"data"`
	}
	a.pool.Get(&told, `SELECT count(*) OVER () AS n, data::text AS data FROM notification WHERE template = 'email_changed' AND recipient = 'before@example.com'`)
	if told.N != 1 || strings.Contains(told.Data, "token") || !strings.Contains(told.Data, "g***@e***.com") {
		t.Errorf("the old address's mail: %+v", told)
	}
	// The new email logs in, the old one does not; the session stands.
	a.login("CUSTOMER", "guest.has.it@example.com", "change password")
	wantError(t, a.as("").fail(loginSessionQ, map[string]any{"t": "CUSTOMER", "e": "before@example.com", "p": "change password"}), "UNAUTHORIZED", "", "")
	// Single use.
	wantError(t, a.as("").fail(verifyEmailQ, map[string]any{"t": token}), "UNAUTHORIZED", "unauthorized", "Invalid or expired email token")
	// The guest customer with the email stays a guest, apart.
	var guests int
	a.pool.Get(&guests, `SELECT count(*) FROM customer WHERE email = 'guest.has.it@example.com' AND NOT has_account AND deleted_at IS NULL`)
	if guests != 1 {
		t.Errorf("%d guests with the email", guests)
	}

	// An expired change token changes nothing.
	a.ageEmailTokens()
	me.query(requestChangeQ, map[string]any{"e": "third@example.com"}, &req)
	expired := a.mailedToken("email_change", "third@example.com")
	a.exec(`UPDATE email_token SET expires_at = now() - interval '1 second' WHERE purpose = 'change'`)
	wantError(t, a.as("").fail(verifyEmailQ, map[string]any{"t": expired}), "UNAUTHORIZED", "unauthorized", "Invalid or expired email token")
	// A newer request replaces the older one's token.
	a.ageEmailTokens()
	me.query(requestChangeQ, map[string]any{"e": "fourth@example.com"}, &req)
	replaced := a.mailedToken("email_change", "fourth@example.com")
	a.ageEmailTokens()
	me.query(requestChangeQ, map[string]any{"e": "fifth@example.com"}, &req)
	wantError(t, a.as("").fail(verifyEmailQ, map[string]any{"t": replaced}), "UNAUTHORIZED", "unauthorized", "")
	// An address taken between the request and the token: refused then.
	a.signUp("fifth@example.com", "fifth password")
	wantError(t, a.as("").fail(verifyEmailQ, map[string]any{"t": a.mailedToken("email_change", "fifth@example.com")}), "DUPLICATE_ERROR", "duplicate_error", "")
	if v := me.meVerified(); v.Email != "guest.has.it@example.com" {
		t.Errorf("a refused change changed the email to %s", v.Email)
	}
}

// TestEmailChangeRace: two customers confirm a change to one address, and
// a third registers it, all at once: one of them gets it, and the address
// is then on one identity and one registered customer.
func TestEmailChangeRace(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for round := range 3 {
		target := "wanted" + string(rune('a'+round)) + "@example.com"
		var tokens []string
		for i := range 2 {
			email := "racer" + string(rune('a'+round)) + string(rune('0'+i)) + "@example.com"
			tok, _ := a.signUp(email, "racer password")
			a.ageEmailTokens()
			a.as(tok).query(requestChangeQ, map[string]any{"e": target}, &struct{}{})
			tokens = append(tokens, a.mailedToken("email_change", target))
		}
		results := released(3, func(i int) response {
			if i == 2 {
				return a.as("").do(registerQ, map[string]any{"t": "CUSTOMER", "e": target, "p": "register password"})
			}
			return a.as("").do(verifyEmailQ, map[string]any{"t": tokens[i]})
		})
		won := 0
		for i, r := range results {
			switch {
			case len(r.Errors) == 0:
				won++
			case r.Errors[0].Extensions["code"] == "DUPLICATE_ERROR" || r.Errors[0].Extensions["code"] == "UNAUTHORIZED" && i == 2:
			default:
				t.Errorf("round %d, call %d: %+v", round, i, r.Errors)
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d of 3 calls got %s, want 1", round, won, target)
		}
		var identities, registered int
		a.pool.Get(&identities, `SELECT count(*) FROM auth_identity WHERE email = $1`, target)
		a.pool.Get(&registered, `SELECT count(*) FROM customer WHERE email = $1 AND has_account AND deleted_at IS NULL`, target)
		if identities != 1 || registered > 1 {
			t.Errorf("round %d: %d identities and %d registered customers have %s", round, identities, registered, target)
		}
		// Every identity's customer has the identity's email.
		var mismatched int
		a.pool.Get(&mismatched, `SELECT count(*) FROM auth_identity i JOIN customer c ON c.id = i.customer_id WHERE c.email <> i.email`)
		if mismatched != 0 {
			t.Errorf("round %d: %d customers differ from their identity's email", round, mismatched)
		}
	}
}

// TestSubscriptionEndsAtLogout: a WebSocket opened with a session's token
// closes when the session logs out, and the token opens no other.
func TestSubscriptionEndsAtLogout(t *testing.T) {
	t.Parallel()
	l := newLive(t, nil)
	token, _ := l.signUp("socket.logout@example.com", "socket password")
	c := l.dial(t, token)
	l.settle(t)
	subscribe(t, c, "1", `subscription { my_events `+liveFields+` }`, nil)
	l.subscribed(t, 1)
	l.as(token).query(`mutation { logout }`, nil, &struct{}{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := c.Read(ctx)
		if err != nil {
			if code := gqlws.CloseStatus(err); code != 4403 {
				t.Fatalf("closed with %d (%v), want 4403", code, err)
			}
			break
		}
		if m.Type != "next" {
			t.Logf("before the close: %s %s", m.Type, m.Payload)
		}
	}
	if code, _ := l.refused(t, map[string]any{"Authorization": "Bearer " + token}); code != 4403 {
		t.Errorf("the logged-out token connects again: closed with %d, want 4403", code)
	}
}

// TestChangePasswordRace: two changes of one password at once, from one
// session: one wins, the other is refused, and the winner's password is
// the one that logs in.
func TestChangePasswordRace(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.signUp("race.pw@example.com", "the old password")
	s := a.as("").loginSession("CUSTOMER", "race.pw@example.com", "the old password")
	results := released(2, func(i int) response {
		return a.as(s.Token).do(changePasswordQ, map[string]any{"c": "the old password", "n": []string{"first new password", "second new password"}[i]})
	})
	won := -1
	for i, r := range results {
		switch {
		case len(r.Errors) == 0:
			if won >= 0 {
				t.Fatal("both changes succeeded")
			}
			won = i
		case r.Errors[0].Extensions["code"] == "INVALID_DATA":
			// It checked the old password after the winner changed it.
		case r.Errors[0].Extensions["code"] == "UNAUTHORIZED":
			// Its token was checked after the winner's change ended it.
		default:
			t.Errorf("change %d: %+v", i, r.Errors)
		}
	}
	if won < 0 {
		t.Fatal("neither change succeeded")
	}
	a.login("CUSTOMER", "race.pw@example.com", []string{"first new password", "second new password"}[won])
	lost := a.as("").do(loginSessionQ, map[string]any{"t": "CUSTOMER", "e": "race.pw@example.com", "p": []string{"first new password", "second new password"}[1-won]})
	if len(lost.Errors) == 0 {
		t.Error("the refused change's password logs in")
	}
}
