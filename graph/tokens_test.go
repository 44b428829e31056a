package graph_test

import (
	"context"
	"fmt"
	"testing"

	"customerservice/auth"
)

const (
	requestResetQ = `mutation ($e: String!) { request_password_reset(actor_type: CUSTOMER, email: $e) }`
	resetQ        = `mutation ($t: String!, $p: String!) { reset_password(token: $t, password: $p) }`
	// revoked is what a token that no longer stands gets.
	revoked = "This token is no longer valid; log in again"
)

// in returns the api reporting to tb, for subtests.
func (a *api) in(tb testing.TB) *api {
	b := *a
	b.tb = tb
	return &b
}

// processResets runs the background step that turns reset requests into
// tokens and mails, as the server does every second, and returns how many
// requests it took.
func (a *api) processResets() int {
	a.tb.Helper()
	n, err := a.auth.ProcessResetRequests(context.Background())
	if err != nil {
		a.tb.Fatalf("process reset requests: %v", err)
	}
	return n
}

// aMinutePasses makes the reset mails sent so far a minute older, as
// waiting would: an identity gets at most one a minute.
func (a *api) aMinutePasses() {
	a.tb.Helper()
	a.exec(`UPDATE password_reset_token SET created_at = created_at - interval '1 minute'`)
}

// resetToken asks for a password reset for email and returns the token
// mailed for it.
func (a *api) resetToken(email string) string {
	a.tb.Helper()
	before := a.resetMails()
	a.as("").query(requestResetQ, map[string]any{"e": email}, &struct{}{})
	a.processResets()
	if a.resetMails() != before+1 {
		a.tb.Fatalf("no reset mail for %s", email)
	}
	var tok string
	if err := a.pool.Get(&tok, `SELECT data->>'token' FROM notification WHERE template = 'password_reset' ORDER BY created_at DESC, id DESC LIMIT 1`); err != nil {
		a.tb.Fatal(err)
	}
	return tok
}

// resetMails counts the password reset mails in the outbox.
func (a *api) resetMails() int {
	a.tb.Helper()
	var n int
	if err := a.pool.Get(&n, `SELECT count(*) FROM notification WHERE template = 'password_reset'`); err != nil {
		a.tb.Fatal(err)
	}
	return n
}

// resetPassword resets a password with a reset token.
func (a *api) resetPassword(token, password string) {
	a.tb.Helper()
	var ok struct {
		R bool `json:"reset_password"`
	}
	a.as("").query(resetQ, map[string]any{"t": token, "p": password}, &ok)
	if !ok.R {
		a.tb.Fatal("reset_password = false")
	}
}

// A password reset ends every other reset token of the identity and every
// token issued before it; tokens issued after it work. Before, a reset
// token asked for earlier reset the password again, and access tokens
// issued before a reset worked for their whole life.
func TestPasswordResetEndsOlderTokens(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	accountTok, _ := a.signUp("rita@example.com", "old password")
	loginTok := a.login("CUSTOMER", "rita@example.com", "old password")
	a.as(loginTok).query(meQ, nil, &struct{}{})

	first := a.resetToken("rita@example.com")
	a.aMinutePasses()
	second := a.resetToken("rita@example.com")
	a.resetPassword(second, "new password")
	wantError(t, a.as("").fail(resetQ, map[string]any{"t": first, "p": "attacker's password"}), "UNAUTHORIZED", "unauthorized", "Invalid or expired reset token")

	for name, tok := range map[string]string{"account token": accountTok, "login token": loginTok} {
		t.Run(name, func(t *testing.T) {
			wantError(t, a.in(t).as(tok).fail(meQ, nil), "UNAUTHORIZED", "unauthorized", revoked)
			wantError(t, a.in(t).as(tok).fail(`mutation { update_me(input: {first_name: "X"}) { id } }`, nil), "UNAUTHORIZED", "unauthorized", revoked)
		})
	}
	// Issued after the reset, within the same second maybe: it works.
	a.as(a.login("CUSTOMER", "rita@example.com", "new password")).query(meQ, nil, &struct{}{})
	// So does a reset asked for after it.
	a.aMinutePasses()
	a.resetPassword(a.resetToken("rita@example.com"), "third password")
	a.as(a.login("CUSTOMER", "rita@example.com", "third password")).query(meQ, nil, &struct{}{})

	// An admin user's tokens end with its password too.
	admin := a.token
	a.resetPassword(a.resetToken("admin@example.com"), "new admin password")
	wantError(t, a.fail(`{ customers { count } }`, nil), "UNAUTHORIZED", "unauthorized", revoked)
	a.as(a.login("USER", "admin@example.com", "new admin password")).query(`{ customers { count } }`, nil, &struct{}{})
	if admin == "" {
		t.Fatal("no admin token")
	}
}

// A deleted customer's token reads and changes nothing. Before, it still
// read the customer's orders.
func TestDeletedCustomersTokenReachesNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tok, id := a.signUp("gone@example.com", "gone password")
	gone := a.as(tok)
	order := gone.placeOrder(orderInput("", 100))
	gone.query(`mutation { create_my_address(input: {city: "Oslo"}) { id } }`, nil, &struct{}{})
	guestOrder := a.as("").placeOrder(orderInput("guest@example.com", 100))

	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { id } }`, map[string]any{"id": id}, &struct{}{})
	for name, q := range map[string]struct {
		query string
		vars  map[string]any
	}{
		"me":                     {meQ, nil},
		"its orders":             {`{ me { orders { count items { id total } } } }`, nil},
		"its addresses":          {`{ me { addresses { id city } } }`, nil},
		"an order by id":         {`query ($id: ID!) { order(id: $id) { id total email } }`, map[string]any{"id": order.ID}},
		"update_me":              {`mutation { update_me(input: {first_name: "X"}) { id } }`, nil},
		"create_my_address":      {`mutation { create_my_address(input: {city: "X"}) { id } }`, nil},
		"place_order":            {placeOrderQ, map[string]any{"input": orderInput("", 100)}},
		"request_order_transfer": {requestQ, map[string]any{"id": guestOrder.ID}},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, gone.in(t).fail(q.query, q.vars), "UNAUTHORIZED", "unauthorized", revoked)
		})
	}
	// The person logs in again, with a token of no customer, and may
	// create a new account (TestReferenceScenarioDeletedCustomerEmail).
	wantError(t, a.as(a.login("CUSTOMER", "gone@example.com", "gone password")).fail(meQ, nil), "NOT_ALLOWED", "not_allowed", "")
}

// A request checks its token against the database once, however many
// fields need the actor.
func TestTokenCheckedOncePerRequest(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var got struct{}
	resp := a.query(`{ a: customers { count } b: customer_groups { count } c: orders { count } d: customers(limit: 1) { count } }`, nil, &got)
	// Four counts and one check of the token.
	if resp.Statements != 5 {
		t.Errorf("%d statements, want 5", resp.Statements)
	}
}

// tableRows returns the number of rows of every table.
func (a *api) tableRows() map[string]int {
	a.tb.Helper()
	var tables []string
	if err := a.pool.Select(&tables, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`); err != nil {
		a.tb.Fatal(err)
	}
	rows := map[string]int{}
	for _, table := range tables {
		var n int
		if err := a.pool.Get(&n, `SELECT count(*) FROM "`+table+`"`); err != nil {
			a.tb.Fatal(err)
		}
		rows[table] = n
	}
	return rows
}

// grown returns the tables with more rows in after than in before, and how
// many more.
func grown(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for table, n := range after {
		if d := n - before[table]; d != 0 {
			out[table] = d
		}
	}
	return out
}

// request_password_reset does the same work for an email with an identity
// as for one without: the same statements, writing the same rows, so its
// timing tells nothing. Before, a known email read the identity and wrote a
// token and an outbox message (3 statements, a WAL flush), an unknown one
// only read (1 statement). No time is measured.
func TestPasswordResetRequestsLookAlike(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.register("CUSTOMER", "known@example.com", "a password")
	var got struct {
		R bool `json:"request_password_reset"`
	}
	start := a.tableRows()
	known := a.as("").query(requestResetQ, map[string]any{"e": "known@example.com"}, &got)
	afterKnown := a.tableRows()
	unknown := a.as("").query(requestResetQ, map[string]any{"e": "unknown@example.com"}, &got)
	afterUnknown := a.tableRows()
	t.Logf("known email: %d statements, rows added %v; unknown email: %d statements, rows added %v",
		known.Statements, grown(start, afterKnown), unknown.Statements, grown(afterKnown, afterUnknown))
	if known.Statements != unknown.Statements || string(known.Data) != string(unknown.Data) {
		t.Errorf("known email: %d statements, %s; unknown: %d, %s", known.Statements, known.Data, unknown.Statements, unknown.Data)
	}
	if k, u := grown(start, afterKnown), grown(afterKnown, afterUnknown); fmt.Sprint(k) != fmt.Sprint(u) {
		t.Errorf("a known email wrote %v, an unknown one %v", k, u)
	}
	// The background step mails the known email only.
	if n := a.processResets(); n != 2 {
		t.Errorf("%d requests processed, want 2", n)
	}
	var recipients []string
	if err := a.pool.Select(&recipients, `SELECT recipient FROM notification WHERE template = 'password_reset'`); err != nil {
		t.Fatal(err)
	}
	if len(recipients) != 1 || recipients[0] != "known@example.com" {
		t.Errorf("reset mails to %v, want known@example.com only", recipients)
	}
}

// Reset mails are throttled per identity, silently: one a minute, five an
// hour, whatever is asked.
func TestResetMailsAreThrottled(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.register("CUSTOMER", "flood@example.com", "a password")
	ask := func(times int) {
		for range times {
			var got struct {
				R bool `json:"request_password_reset"`
			}
			a.as("").query(requestResetQ, map[string]any{"e": "flood@example.com"}, &got)
			if !got.R {
				t.Fatal("request_password_reset = false")
			}
		}
		a.processResets()
	}
	ask(10)
	if n := a.resetMails(); n != 1 {
		t.Errorf("10 requests at once: %d mails, want 1", n)
	}
	for range 9 {
		a.aMinutePasses()
		ask(1)
	}
	if n := a.resetMails(); n != auth.ResetMailsPerHour {
		t.Errorf("a request a minute for 10 minutes: %d mails, want %d", n, auth.ResetMailsPerHour)
	}
	// An hour on, the identity may be mailed again.
	a.exec(`UPDATE password_reset_token SET created_at = created_at - interval '1 hour'`)
	ask(1)
	if n := a.resetMails(); n != auth.ResetMailsPerHour+1 {
		t.Errorf("after an hour: %d mails, want %d", n, auth.ResetMailsPerHour+1)
	}
}
