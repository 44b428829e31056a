package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"customerservice/graph"
	"customerservice/webhooks"
)

type webhookOut struct {
	ID                      string     `json:"id"`
	URL                     string     `json:"url"`
	Description             *string    `json:"description"`
	EventTypes              []string   `json:"event_types"`
	Failing                 bool       `json:"failing"`
	FailingSince            *time.Time `json:"failing_since"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedBy               *string    `json:"created_by"`
	Deliveries              []struct {
		ID            string     `json:"id"`
		WebhookID     string     `json:"webhook_id"`
		EventID       string     `json:"event_id"`
		EventType     string     `json:"event_type"`
		Status        string     `json:"status"`
		Attempts      int        `json:"attempts"`
		LastError     *string    `json:"last_error"`
		LastErrorCode *string    `json:"last_error_code"`
		ResponseCode  *int       `json:"response_code"`
		NextAttemptAt *time.Time `json:"next_attempt_at"`
		GivenUpAt     *time.Time `json:"given_up_at"`
	} `json:"deliveries"`
}

const webhookFields = `id url description event_types failing failing_since previous_secret_expires_at created_by
	deliveries { id webhook_id event_id event_type status attempts last_error last_error_code response_code next_attempt_at given_up_at }`

func (a *api) createWebhook(input map[string]any) (webhookOut, string) {
	a.tb.Helper()
	var got struct {
		C struct {
			Webhook webhookOut `json:"webhook"`
			Secret  string     `json:"secret"`
		} `json:"create_webhook"`
	}
	a.query(`mutation ($input: CreateWebhookInput!) { create_webhook(input: $input) { secret webhook { `+webhookFields+` } } }`,
		map[string]any{"input": input}, &got)
	return got.C.Webhook, got.C.Secret
}

func (a *api) webhook(id string) webhookOut {
	a.tb.Helper()
	var got struct {
		W webhookOut `json:"webhook"`
	}
	a.query(`query ($id: ID!) { webhook(id: $id) { `+webhookFields+` } }`, map[string]any{"id": id}, &got)
	return got.W
}

// TestWebhookAPI runs every query and mutation of webhooks as an admin
// does, with the errors a client can cause.
func TestWebhookAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	hook, secret := a.createWebhook(map[string]any{"url": " http://receiver.example:8081/hooks ",
		"event_types": []string{"customer.*", "order.placed", "customer.*"}, "description": "CRM"})
	if !strings.HasPrefix(hook.ID, "wh_") || hook.URL != "http://receiver.example:8081/hooks" ||
		strings.Join(hook.EventTypes, ",") != "customer.*,order.placed" || hook.Description == nil || *hook.Description != "CRM" ||
		hook.Failing || hook.CreatedBy == nil || *hook.CreatedBy != a.adminID || len(hook.Deliveries) != 0 {
		t.Errorf("created %+v", hook)
	}
	if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+44 {
		t.Errorf("secret %q is not a whsec_ secret of 32 bytes", secret)
	}
	// The secret is shown once: no read shows it again.
	resp := a.do(`query ($id: ID!) { webhook(id: $id) { `+webhookFields+` } webhooks { count items { id url } } }`, map[string]any{"id": hook.ID})
	if len(resp.Errors) > 0 || strings.Contains(string(resp.Data), strings.TrimPrefix(secret, "whsec_")) {
		t.Errorf("a read shows the secret, or failed: %s %+v", resp.Data, resp.Errors)
	}

	// A change the endpoint selects gets a pending delivery; one it does
	// not select gets none.
	c := a.createCustomer(map[string]any{"email": "hooked@example.com"})
	a.createGroup("Not selected")
	got := a.webhook(hook.ID)
	if len(got.Deliveries) != 1 {
		t.Fatalf("deliveries = %+v, want the customer.created one", got.Deliveries)
	}
	d := got.Deliveries[0]
	if !strings.HasPrefix(d.ID, "msg_") || d.WebhookID != hook.ID || !strings.HasPrefix(d.EventID, "evt_") ||
		d.EventType != "customer.created" || d.Status != "PENDING" || d.Attempts != 0 || d.NextAttemptAt == nil {
		t.Errorf("delivery = %+v", d)
	}
	var eventCustomer string
	if err := a.pool.Get(&eventCustomer, `SELECT e.customer_id FROM event e JOIN webhook_delivery d ON d.event_seq = e.seq WHERE d.id = $1`, d.ID); err != nil || eventCustomer != c.ID {
		t.Errorf("the delivery's event concerns %q (%v), want %s", eventCustomer, err, c.ID)
	}

	// update_webhook changes what it is given and clears the failing mark.
	a.exec(`UPDATE webhook_endpoint SET failing_since = now() WHERE id = $1`, hook.ID)
	if !a.webhook(hook.ID).Failing {
		t.Fatal("failing_since set, failing false")
	}
	var upd struct {
		W webhookOut `json:"update_webhook"`
	}
	a.query(`mutation ($id: ID!) { update_webhook(id: $id, input: {url: "https://receiver.example/v2", event_types: ["*"]}) { `+webhookFields+` } }`,
		map[string]any{"id": hook.ID}, &upd)
	if upd.W.URL != "https://receiver.example/v2" || strings.Join(upd.W.EventTypes, ",") != "*" || upd.W.Failing ||
		upd.W.FailingSince != nil || upd.W.Description == nil || len(upd.W.Deliveries) != 1 {
		t.Errorf("updated %+v", upd.W)
	}
	a.query(`mutation ($id: ID!) { update_webhook(id: $id, input: {description: null}) { `+webhookFields+` } }`, map[string]any{"id": hook.ID}, &upd)
	if upd.W.Description != nil || upd.W.URL != "https://receiver.example/v2" {
		t.Errorf("description cleared: %+v", upd.W)
	}

	// rotate_webhook_secret: a new secret, the previous one signing beside
	// it for a day.
	var rot struct {
		R struct {
			Webhook webhookOut `json:"webhook"`
			Secret  string     `json:"secret"`
		} `json:"rotate_webhook_secret"`
	}
	a.query(`mutation ($id: ID!) { rotate_webhook_secret(id: $id) { secret webhook { id previous_secret_expires_at } } }`, map[string]any{"id": hook.ID}, &rot)
	if !strings.HasPrefix(rot.R.Secret, "whsec_") || rot.R.Secret == secret || rot.R.Webhook.PreviousSecretExpiresAt == nil ||
		time.Until(*rot.R.Webhook.PreviousSecretExpiresAt) < 23*time.Hour || time.Until(*rot.R.Webhook.PreviousSecretExpiresAt) > 25*time.Hour {
		t.Errorf("rotated: %+v", rot.R)
	}

	// redeliver: a given-up delivery is pending again, due now.
	a.exec(`UPDATE webhook_delivery SET status = 'failed', given_up_at = now(), attempts = 3, last_error = 'the receiver answered 503',
		last_error_code = 'HTTP_STATUS', response_code = 503, next_attempt_at = now() + interval '1 day' WHERE id = $1`, d.ID)
	if g := a.webhook(hook.ID).Deliveries[0]; g.Status != "FAILED" || g.GivenUpAt == nil || g.NextAttemptAt != nil ||
		g.LastErrorCode == nil || *g.LastErrorCode != "HTTP_STATUS" || g.ResponseCode == nil || *g.ResponseCode != 503 {
		t.Errorf("a given-up delivery shows as %+v", g)
	}
	var red struct {
		R struct {
			ID            string     `json:"id"`
			Status        string     `json:"status"`
			Attempts      int        `json:"attempts"`
			NextAttemptAt *time.Time `json:"next_attempt_at"`
			GivenUpAt     *time.Time `json:"given_up_at"`
		} `json:"redeliver"`
	}
	a.query(`mutation ($id: ID!) { redeliver(delivery_id: $id) { id status attempts next_attempt_at given_up_at } }`, map[string]any{"id": d.ID}, &red)
	if red.R.ID != d.ID || red.R.Status != "PENDING" || red.R.Attempts != 3 || red.R.GivenUpAt != nil ||
		red.R.NextAttemptAt == nil || time.Until(*red.R.NextAttemptAt) > time.Minute {
		t.Errorf("redelivered: %+v", red.R)
	}
	// While a dispatcher sends it, it cannot be redelivered.
	a.exec(`UPDATE webhook_delivery SET claimed_until = now() + interval '1 minute' WHERE id = $1`, d.ID)
	wantError(t, a.fail(`mutation ($id: ID!) { redeliver(delivery_id: $id) { id } }`, map[string]any{"id": d.ID}), "CONFLICT", "conflict", "")
	a.exec(`UPDATE webhook_delivery SET claimed_until = NULL WHERE id = $1`, d.ID)

	// The list, newest first.
	second, _ := a.createWebhook(map[string]any{"url": "http://other.example/", "event_types": []string{"order.*"}})
	var list struct {
		L struct {
			Count  int          `json:"count"`
			Limit  int          `json:"limit"`
			Offset int          `json:"offset"`
			Items  []webhookOut `json:"items"`
		} `json:"webhooks"`
	}
	a.query(`{ webhooks(limit: 5) { count limit offset items { id deliveries(limit: 1) { id } } } }`, nil, &list)
	if list.L.Count != 2 || list.L.Limit != 5 || len(list.L.Items) != 2 || list.L.Items[0].ID != second.ID ||
		len(list.L.Items[1].Deliveries) != 1 || len(list.L.Items[0].Deliveries) != 0 {
		t.Errorf("webhooks = %+v", list.L)
	}

	// delete_webhook; then the endpoint and its deliveries are gone.
	var del struct {
		D struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Deleted bool   `json:"deleted"`
		} `json:"delete_webhook"`
	}
	a.query(`mutation ($id: ID!) { delete_webhook(id: $id) { id object deleted } }`, map[string]any{"id": hook.ID}, &del)
	if del.D.ID != hook.ID || del.D.Object != "webhook" || !del.D.Deleted {
		t.Errorf("deleted: %+v", del.D)
	}
	a.createCustomer(map[string]any{"email": "after@example.com"})
	var pending int
	if err := a.pool.Get(&pending, `SELECT count(*) FROM webhook_delivery WHERE endpoint_id = $1`, hook.ID); err != nil || pending != 1 {
		t.Errorf("a deleted endpoint has %d deliveries (%v), want only the one made before", pending, err)
	}
	missing := "Webhook with id: " + hook.ID + " was not found"
	for _, op := range []string{
		`query ($id: ID!) { webhook(id: $id) { id } }`,
		`mutation ($id: ID!) { update_webhook(id: $id, input: {description: "x"}) { id } }`,
		`mutation ($id: ID!) { rotate_webhook_secret(id: $id) { secret } }`,
		`mutation ($id: ID!) { delete_webhook(id: $id) { id } }`,
	} {
		wantError(t, a.fail(op, map[string]any{"id": hook.ID}), "NOT_FOUND", "not_found", missing)
	}
	wantError(t, a.fail(`mutation ($id: ID!) { redeliver(delivery_id: $id) { id } }`, map[string]any{"id": d.ID}),
		"NOT_FOUND", "not_found", "Webhook delivery with id: "+d.ID+" was not found")
	wantError(t, a.fail(`mutation { redeliver(delivery_id: "msg_01ARZ3NDEKTSV4RRFFQ69G5FAV") { id } }`, nil), "NOT_FOUND", "not_found", "")
	wantError(t, a.fail(`{ webhook(id: "wh_01ARZ3NDEKTSV4RRFFQ69G5FAV") { id } }`, nil), "NOT_FOUND", "not_found", "")
}

func TestWebhookInputIsChecked(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	hook, _ := a.createWebhook(map[string]any{"url": "http://receiver.example/", "event_types": []string{"*"}})
	const create = `mutation ($input: CreateWebhookInput!) { create_webhook(input: $input) { secret } }`
	for _, c := range []struct {
		input        map[string]any
		field, words string
	}{
		{map[string]any{"url": "ftp://receiver.example/", "event_types": []string{"*"}}, "input.url", "http:// or https://"},
		{map[string]any{"url": "receiver.example/hooks", "event_types": []string{"*"}}, "input.url", "absolute"},
		{map[string]any{"url": "http:///hooks", "event_types": []string{"*"}}, "input.url", "host"},
		{map[string]any{"url": "http://user:pw@receiver.example/", "event_types": []string{"*"}}, "input.url", "credentials"},
		{map[string]any{"url": "http://receiver.example:99999/", "event_types": []string{"*"}}, "input.url", "port"},
		{map[string]any{"url": "http://receiver.example/" + strings.Repeat("a", 2048), "event_types": []string{"*"}}, "input.url", "at most"},
		{map[string]any{"url": "http://receiver.example/", "event_types": []string{"customer.exploded"}}, "input.event_types", "not an event type"},
		{map[string]any{"url": "http://receiver.example/", "event_types": []string{"customer"}}, "input.event_types", "not an event type"},
		{map[string]any{"url": "http://receiver.example/", "event_types": []string{"nothing.*"}}, "input.event_types", "not an event type"},
		{map[string]any{"url": "http://receiver.example/", "event_types": []string{}}, "input.event_types", "1 to 50"},
		{map[string]any{"url": "http://receiver.example/", "event_types": []string{"*"}, "description": "a\u202eb"}, "input.description", "bidirectional"},
	} {
		e := a.fail(create, map[string]any{"input": c.input})
		wantError(t, e, "INVALID_DATA", "invalid_data", "")
		if e.Extensions["field"] != c.field || !strings.Contains(e.Message, c.words) {
			t.Errorf("%v: %q on %v; want %q on %s", c.input, e.Message, e.Extensions["field"], c.words, c.field)
		}
	}
	const update = `mutation ($id: ID!, $input: UpdateWebhookInput!) { update_webhook(id: $id, input: $input) { id } }`
	for input, field := range map[string]string{`{"url": null}`: "input.url", `{"event_types": null}`: "input.event_types",
		`{"url": "gopher://x/"}`: "input.url", `{"event_types": ["order"]}`: "input.event_types"} {
		var in map[string]any
		if err := json.Unmarshal([]byte(input), &in); err != nil {
			t.Fatal(err)
		}
		e := a.fail(update, map[string]any{"id": hook.ID, "input": in})
		wantError(t, e, "INVALID_DATA", "invalid_data", "")
		if e.Extensions["field"] != field {
			t.Errorf("update %s: field %v, want %s", input, e.Extensions["field"], field)
		}
	}
	for _, q := range []string{`{ webhooks(limit: 0) { count } }`, `{ webhooks(limit: 101) { count } }`, `{ webhooks(offset: -1) { count } }`} {
		wantError(t, a.fail(q, nil), "INVALID_DATA", "invalid_data", "")
	}
	for _, limit := range []int{0, 101} {
		wantError(t, a.fail(fmt.Sprintf(`{ webhooks { items { deliveries(limit: %d) { id } } } }`, limit), nil), "INVALID_DATA", "invalid_data", "")
	}
	var n int
	if err := a.pool.Get(&n, `SELECT count(*) FROM webhook_endpoint`); err != nil || n != 1 {
		t.Errorf("%d endpoints after refused input (%v), want 1", n, err)
	}
}

// TestWebhookOperationsNeedAnAdminUser: without a token, UNAUTHORIZED;
// with a customer's, NOT_ALLOWED; and nothing changes.
func TestWebhookOperationsNeedAnAdminUser(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	hook, _ := a.createWebhook(map[string]any{"url": "http://receiver.example/", "event_types": []string{"*"}})
	customerToken, _ := a.signUp("shopper@example.com", "shopper password")
	var delivery string
	if err := a.pool.Get(&delivery, `SELECT id FROM webhook_delivery WHERE endpoint_id = $1 LIMIT 1`, hook.ID); err != nil {
		t.Fatal(err)
	}
	state := func() string {
		var s string
		if err := a.pool.Get(&s, `SELECT concat_ws('|',
			(SELECT string_agg(concat_ws(',', id, url, description, event_types, secret_sealed, deleted_at, updated_at), ';' ORDER BY id) FROM webhook_endpoint),
			(SELECT string_agg(concat_ws(',', id, status, next_attempt_at, scheduled_at), ';' ORDER BY id) FROM webhook_delivery))`); err != nil {
			t.Fatal(err)
		}
		return s
	}
	ops := []struct {
		query string
		vars  map[string]any
	}{
		{`{ webhooks { count items { id } } }`, nil},
		{`query ($id: ID!) { webhook(id: $id) { id } }`, map[string]any{"id": hook.ID}},
		{`mutation { create_webhook(input: {url: "http://x.example/", event_types: ["*"]}) { secret } }`, nil},
		{`mutation ($id: ID!) { update_webhook(id: $id, input: {url: "http://evil.example/"}) { id } }`, map[string]any{"id": hook.ID}},
		{`mutation ($id: ID!) { delete_webhook(id: $id) { id } }`, map[string]any{"id": hook.ID}},
		{`mutation ($id: ID!) { rotate_webhook_secret(id: $id) { secret } }`, map[string]any{"id": hook.ID}},
		{`mutation ($id: ID!) { redeliver(delivery_id: $id) { id } }`, map[string]any{"id": delivery}},
	}
	before := state()
	for _, op := range ops {
		wantError(t, a.as("").fail(op.query, op.vars), "UNAUTHORIZED", "unauthorized", "")
		wantError(t, a.as(customerToken).fail(op.query, op.vars), "NOT_ALLOWED", "not_allowed", "")
	}
	if after := state(); after != before {
		t.Errorf("refused operations changed webhooks:\nbefore %s\nafter  %s", before, after)
	}
}

// TestWebhookDeliveriesLoadInOneStatement: a list of endpoints with their
// deliveries costs the same statements for 1 endpoint as for 12.
func TestWebhookDeliveriesLoadInOneStatement(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for i := range 12 {
		a.createWebhook(map[string]any{"url": fmt.Sprintf("http://r%d.example/", i), "event_types": []string{"customer.created"}})
	}
	for i := range 3 {
		a.createCustomer(map[string]any{"email": fmt.Sprintf("c%d@example.com", i)})
	}
	counts := map[int]int64{}
	for _, limit := range []int{1, 12} {
		var got struct {
			L struct {
				Items []webhookOut `json:"items"`
			} `json:"webhooks"`
		}
		resp := a.query(`query ($n: Int!) { webhooks(limit: $n) { items { id deliveries(limit: 2) { id status event_type } } } }`, map[string]any{"n": limit}, &got)
		if len(got.L.Items) != limit {
			t.Fatalf("limit %d: %d webhooks", limit, len(got.L.Items))
		}
		for _, w := range got.L.Items {
			if len(w.Deliveries) != 2 {
				t.Errorf("webhook %s: %d deliveries, want 2 of 3", w.ID, len(w.Deliveries))
			}
		}
		counts[limit] = resp.Statements
	}
	// The token's check, the endpoints, their deliveries.
	for limit, n := range counts {
		if n != 3 {
			t.Errorf("limit %d: %d statements, want 3", limit, n)
		}
	}
}

// TestWebhooksInProductionReachPublicAddressesOnly: creating an endpoint
// that is not https, or whose host is or resolves to a loopback, private
// or link-local address, is INVALID_DATA naming input.url.
func TestWebhooksInProductionReachPublicAddressesOnly(t *testing.T) {
	t.Parallel()
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "internal.example":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "public.example":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	a := newAPI(t, func(o *graph.Options) {
		o.Production = true
		o.Webhooks.RequireHTTPS = true
		o.Webhooks.Guard = &webhooks.Guard{LookupIP: lookup}
	})
	for url, words := range map[string]string{
		"https://127.0.0.1/hook":                    "127.0.0.1 is a loopback address",
		"https://10.0.0.8/hook":                     "10.0.0.8 is a private address",
		"https://169.254.169.254/latest/meta-data/": "169.254.169.254 is a link-local address",
		"https://[::1]/hook":                        "::1 is a loopback address",
		"https://internal.example/hook":             "internal.example resolves to 127.0.0.1, a loopback address",
		"http://public.example/hook":                "https:// in production",
		"https://unknown.example/hook":              "does not resolve",
	} {
		e := a.fail(`mutation ($u: String!) { create_webhook(input: {url: $u, event_types: ["*"]}) { secret } }`, map[string]any{"u": url})
		wantError(t, e, "INVALID_DATA", "invalid_data", "")
		if e.Extensions["field"] != "input.url" || !strings.Contains(e.Message, words) {
			t.Errorf("%s: %q on %v; want %q on input.url", url, e.Message, e.Extensions["field"], words)
		}
	}
	hook, _ := a.createWebhook(map[string]any{"url": "https://public.example/hook", "event_types": []string{"*"}})
	e := a.fail(`mutation ($id: ID!) { update_webhook(id: $id, input: {url: "https://internal.example/"}) { id } }`, map[string]any{"id": hook.ID})
	wantError(t, e, "INVALID_DATA", "invalid_data", "")
}
