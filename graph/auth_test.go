package graph_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"customerservice/auth"
)

const (
	registerQ = `mutation ($t: ActorType!, $e: String!, $p: String!) { register(actor_type: $t, email: $e, password: $p) { token expires_at } }`
	loginQ    = `mutation ($t: ActorType!, $e: String!, $p: String!) { login(actor_type: $t, email: $e, password: $p) { token expires_at } }`
	accountQ  = `mutation ($input: CustomerAccountInput!) { create_customer_account(input: $input) { customer { id email has_account first_name } token { token expires_at } } }`
	meQ       = `{ me { id email has_account first_name } }`
)

type account struct {
	Customer struct {
		ID         string  `json:"id"`
		Email      string  `json:"email"`
		HasAccount bool    `json:"has_account"`
		FirstName  *string `json:"first_name"`
	} `json:"customer"`
	Token struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	} `json:"token"`
}

// register registers an identity and returns its unlinked token.
func (a *api) register(actorType, email, password string) string {
	a.tb.Helper()
	var got struct {
		Register struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"register"`
	}
	a.as("").query(registerQ, map[string]any{"t": actorType, "e": email, "p": password}, &got)
	if got.Register.Token == "" || time.Until(got.Register.ExpiresAt) < time.Minute {
		a.tb.Fatalf("register: %+v", got.Register)
	}
	return got.Register.Token
}

// signUp registers a customer and creates its account, returning the
// customer's token and id.
func (a *api) signUp(email, password string) (token, id string) {
	a.tb.Helper()
	var got struct {
		Account account `json:"create_customer_account"`
	}
	a.as(a.register("CUSTOMER", email, password)).query(accountQ, map[string]any{"input": map[string]any{"email": email}}, &got)
	return got.Account.Token.Token, got.Account.Customer.ID
}

func TestReferenceScenarioAdminEmail(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	if _, err := a.auth.CreateUser(context.Background(), "john@example.com", "john's password", nil, nil); err != nil {
		t.Fatal(err)
	}
	// A customer registering with an admin user's email is refused...
	err := a.as("").fail(registerQ, map[string]any{"t": "CUSTOMER", "e": "John@Example.com", "p": "any password at all"})
	wantError(t, err, "UNAUTHORIZED", "unauthorized", "Identity with email already exists")

	// ...and logs in with that identity instead, then creates the customer.
	tok := a.login("CUSTOMER", "john@example.com", "john's password")
	var got struct {
		Account account `json:"create_customer_account"`
	}
	a.as(tok).query(accountQ, map[string]any{"input": map[string]any{"email": "john@example.com", "first_name": "John"}}, &got)
	c := got.Account.Customer
	if !c.HasAccount || c.Email != "john@example.com" || *c.FirstName != "John" {
		t.Errorf("customer = %+v", c)
	}
	var me struct {
		Me struct{ ID string } `json:"me"`
	}
	a.as(got.Account.Token.Token).query(meQ, nil, &me)
	if me.Me.ID != c.ID {
		t.Errorf("me = %s, want %s", me.Me.ID, c.ID)
	}
	// The admin user still logs in as one.
	var list struct {
		Customers struct{ Count int } `json:"customers"`
	}
	a.as(a.login("USER", "john@example.com", "john's password")).query(`{ customers { count } }`, nil, &list)
	if list.Customers.Count != 1 {
		t.Errorf("john as admin sees %d customers", list.Customers.Count)
	}
	// A later customer login acts as the customer.
	a.as(a.login("CUSTOMER", "john@example.com", "john's password")).query(meQ, nil, &me)
	if me.Me.ID != c.ID {
		t.Errorf("me after login = %s, want %s", me.Me.ID, c.ID)
	}
}

func TestReferenceScenarioDeletedCustomerEmail(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	_, first := a.signUp("jane@example.com", "jane's password")
	a.query(`mutation ($id: ID!) { delete_customer(id: $id) { deleted } }`, map[string]any{"id": first}, &struct{}{})

	err := a.as("").fail(registerQ, map[string]any{"t": "CUSTOMER", "e": "jane@example.com", "p": "another password"})
	wantError(t, err, "UNAUTHORIZED", "unauthorized", "Identity with email already exists")

	var got struct {
		Account account `json:"create_customer_account"`
	}
	a.as(a.login("CUSTOMER", "jane@example.com", "jane's password")).query(accountQ, map[string]any{"input": map[string]any{"email": "jane@example.com"}}, &got)
	if got.Account.Customer.ID == first || !got.Account.Customer.HasAccount {
		t.Errorf("new account = %+v, want a new registered customer", got.Account.Customer)
	}
}

func TestGuestAndRegisteredCustomerCoexist(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	guest := a.createCustomer(map[string]any{"email": "both@example.com"})
	_, id := a.signUp("both@example.com", "a good password")
	if id == guest.ID {
		t.Fatal("the account took over the guest customer")
	}
	var list customerPage
	a.query(listCustomers, map[string]any{"filter": map[string]any{"email": []string{"both@example.com"}}}, &list)
	if list.Customers.Count != 2 {
		t.Errorf("customers with the email: %d, want the guest and the registered one", list.Customers.Count)
	}
}

func TestCreateCustomerAccountNeedsAFreshCustomerToken(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	input := map[string]any{"input": map[string]any{"email": "kim@example.com"}}
	wantError(t, a.as("").fail(accountQ, input), "UNAUTHORIZED", "unauthorized", "")
	wantError(t, a.fail(accountQ, input), "NOT_ALLOWED", "not_allowed", "") // the admin's token

	unlinked := a.register("CUSTOMER", "kim@example.com", "kim's password")
	wantError(t, a.as(unlinked).fail(accountQ, map[string]any{"input": map[string]any{"email": "other@example.com"}}), "INVALID_DATA", "invalid_data", "")
	var got struct {
		Account account `json:"create_customer_account"`
	}
	a.as(unlinked).query(accountQ, input, &got)
	// The same unlinked token again, and the linked one, are refused.
	wantError(t, a.as(unlinked).fail(accountQ, input), "NOT_ALLOWED", "not_allowed", "Request already authenticated as a customer")
	wantError(t, a.as(got.Account.Token.Token).fail(accountQ, input), "NOT_ALLOWED", "not_allowed", "Request already authenticated as a customer")

	// A USER registration's token is not a customer's.
	userTok := a.register("USER", "staff@example.com", "staff password")
	wantError(t, a.as(userTok).fail(accountQ, map[string]any{"input": map[string]any{"email": "staff@example.com"}}), "NOT_ALLOWED", "not_allowed", "")
	// Nor is it an admin user's until one is created for it.
	wantError(t, a.as(userTok).fail(`{ customers { count } }`, nil), "NOT_ALLOWED", "not_allowed", "")
}

func TestConcurrentRegistrations(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const n = 20
	results := concurrently(n, func(i int) response {
		email := fmt.Sprintf("%s@example.com", strings.ToUpper("racer")[:i%5]+"racer"[i%5:])
		return a.as("").do(registerQ, map[string]any{"t": "CUSTOMER", "e": email, "p": "a good password"})
	})
	ok, exists := outcomes(t, results, "UNAUTHORIZED", "Identity with email already exists")
	var identities int
	if err := a.pool.Get(&identities, `SELECT count(*) FROM auth_identity WHERE email = 'racer@example.com'`); err != nil {
		t.Fatal(err)
	}
	if ok != 1 || exists != n-1 || identities != 1 {
		t.Errorf("%d registered, %d refused, %d identities; want 1, %d, 1", ok, exists, identities, n-1)
	}
}

func TestPasswordRules(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for name, pw := range map[string]string{
		"7 characters":   "1234567",
		"129 characters": strings.Repeat("p", 129),
		"100 KB":         strings.Repeat("p", 100<<10),
	} {
		t.Run(name, func(t *testing.T) {
			err := a.as("").fail(registerQ, map[string]any{"t": "CUSTOMER", "e": "pw@example.com", "p": pw})
			wantError(t, err, "INVALID_DATA", "invalid_data", "")
			if err.Extensions["field"] != "password" {
				t.Errorf("field = %v", err.Extensions["field"])
			}
		})
	}
	a.register("CUSTOMER", "eight@example.com", "12345678")
	a.register("CUSTOMER", "long@example.com", strings.Repeat("é", 128))
	wantError(t, a.as("").fail(registerQ, map[string]any{"t": "CUSTOMER", "e": "not an email", "p": "12345678"}), "INVALID_DATA", "invalid_data", "")
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.register("CUSTOMER", "lock@example.com", "right password")
	wrong := a.as("").fail(loginQ, map[string]any{"t": "CUSTOMER", "e": "lock@example.com", "p": "wrong password"})
	unknown := a.as("").fail(loginQ, map[string]any{"t": "CUSTOMER", "e": "nobody@example.com", "p": "wrong password"})
	wantError(t, wrong, "UNAUTHORIZED", "unauthorized", "Invalid email or password")
	wantError(t, unknown, "UNAUTHORIZED", "unauthorized", "Invalid email or password")
	// Throttling is in login_throttle_test.go.
}

func TestBadTokens(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	secret := []byte("a test secret of at least 32 bytes!!")
	expired, _ := auth.NewTokens(secret, -time.Minute)
	old, _, _ := expired.Issue(auth.Actor{Type: auth.User, ID: a.adminID, IdentityID: "authid_x"})
	other, _ := auth.NewTokens([]byte("another secret of at least 32 bytes!"), time.Hour)
	foreign, _, _ := other.Issue(auth.Actor{Type: auth.User, ID: a.adminID, IdentityID: "authid_x"})

	parts := strings.Split(a.token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"user"`, `"customer"`, 1))) + "." + parts[2]

	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"iss": "customerservice", "aud": "customerservice-api", "exp": time.Now().Add(time.Hour).Unix(),
		"actor_type": "user", "actor_id": a.adminID, "auth_identity_id": "authid_x",
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{
		"iss": "customerservice", "aud": "customerservice-api", "exp": time.Now().Add(time.Hour).Unix(),
		"actor_type": "user", "actor_id": a.adminID, "auth_identity_id": "authid_x",
	}).SignedString(secret)
	wrongAudience, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "customerservice", "aud": "somebody-else", "exp": time.Now().Add(time.Hour).Unix(),
		"actor_type": "user", "actor_id": a.adminID, "auth_identity_id": "authid_x",
	}).SignedString(secret)
	noExpiry, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "customerservice", "aud": "customerservice-api",
		"actor_type": "user", "actor_id": a.adminID, "auth_identity_id": "authid_x",
	}).SignedString(secret)

	for name, tok := range map[string]string{
		"expired": old, "signed with another secret": foreign, "tampered": tampered, "alg none": none,
		"HS512": hs512, "another audience": wrongAudience, "no expiry": noExpiry, "garbage": "not.a.token", "truncated": a.token[:len(a.token)-5],
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, a.as(tok).fail(`{ customers { count } }`, nil), "UNAUTHORIZED", "unauthorized", "Invalid or expired token")
		})
	}
	b := *a
	resp := b.as("").doWithHeader(`{ customers { count } }`, "Basic dXNlcjpwYXNz")
	if len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != "UNAUTHORIZED" {
		t.Errorf("Basic auth: %+v", resp.Errors)
	}
	// A bad token does not stop public operations.
	var ok struct {
		Register struct{ Token string } `json:"register"`
	}
	a.as("garbage").query(registerQ, map[string]any{"t": "CUSTOMER", "e": "public@example.com", "p": "a good password"}, &ok)
}
