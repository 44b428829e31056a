package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/webhooks"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func sealer(tb testing.TB) *webhooks.Sealer {
	tb.Helper()
	s, err := webhooks.NewSealer([]byte("a test secret of at least 32 bytes!!"))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// devService is the service as a local server runs it: any address, any
// scheme of the two.
func devService(tb testing.TB, pool *sqlx.DB) *webhooks.Service {
	return &webhooks.Service{DB: pool, Sealer: sealer(tb), Guard: &webhooks.Guard{AllowPrivate: true}}
}

// dispatcher returns a dispatcher whose backoff is counted in
// milliseconds, so that tests see retries and giving up without waiting.
func dispatcher(tb testing.TB, pool *sqlx.DB, guard *webhooks.Guard) *webhooks.Dispatcher {
	return &webhooks.Dispatcher{DB: pool, Sealer: sealer(tb), Guard: guard, Logger: discard,
		Timeout: 2 * time.Second, RetryBase: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond, RetryWindow: time.Minute}
}

// createCustomers writes n customers in one transaction, and so n
// customer.created events, and returns their ids.
func createCustomers(tb testing.TB, pool *sqlx.DB, n int) []string {
	tb.Helper()
	ctx := context.Background()
	ids, err := db.InTx(ctx, pool, func(tx db.Tx) ([]string, error) {
		var ids []string
		for range n {
			c, err := db.CreateCustomer(ctx, tx, db.NewCustomer{CustomerFields: db.CustomerFields{
				Email: db.To(fmt.Sprintf("c%s@example.com", strings.ToLower(db.NewID("")))),
			}})
			if err != nil {
				return nil, err
			}
			ids = append(ids, c.ID)
		}
		return ids, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

// delivery is a delivery's row as the tests look at it.
type delivery struct {
	ID            string  `db:"id"`
	Status        string  `db:"status"`
	Attempts      int     `db:"attempts"`
	LastError     *string `db:"last_error"`
	LastErrorCode *string `db:"last_error_code"`
	ResponseCode  *int    `db:"response_code"`
	Delivered     bool    `db:"delivered"`
	GivenUp       bool    `db:"given_up"`
}

func deliveries(tb testing.TB, pool *sqlx.DB, webhookID string) []delivery {
	tb.Helper()
	var out []delivery
	err := pool.Select(&out, `SELECT id, status, attempts, last_error, last_error_code, response_code,
		delivered_at IS NOT NULL AS delivered, given_up_at IS NOT NULL AS given_up
		FROM webhook_delivery WHERE endpoint_id = $1 ORDER BY event_seq`, webhookID)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// received is a request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an endpoint on a real HTTP server; answer decides, by the
// request's number from 1, what it does.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	hook func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(tb testing.TB, hook func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{hook: hook}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		n := len(rc.got)
		rc.mu.Unlock()
		rc.hook(n, w, r)
	}))
	tb.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// verify checks a request as a receiver following the Standard Webhooks
// specification would, written from the specification rather than from
// the server's code: the signed content is "id.timestamp.body", signed with
// HMAC-SHA256 under the base64-decoded part of the secret after whsec_;
// webhook-signature holds space-separated "v1,<base64>" signatures, any of
// which may match; the timestamp must be within five minutes of now.
func verify(secret string, h http.Header, body []byte) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	seconds, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	if d := time.Since(time.Unix(seconds, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s is %v away", ts, d)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, sig, _ := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no signature of %q matches", sigs)
}

// TestTheVerifierFollowsTheSpecification checks the test's verifier on the
// specification's published vector, timestamp aside.
func TestTheVerifierFollowsTheSpecification(t *testing.T) {
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	err := verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, []byte(`{"test": 2432232314}`))
	if err == nil || !strings.Contains(err.Error(), "no signature") {
		t.Fatalf("the vector verified with another timestamp: %v", err)
	}
	key, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(`msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}`))
	if got := base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Errorf("the verifier's HMAC gives %s for the specification's vector", got)
	}
}

// sendUntil runs the dispatcher until done says so, or fails the test.
func sendUntil(tb testing.TB, d *webhooks.Dispatcher, done func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			tb.Fatal("gave up waiting for the dispatcher")
		}
		if _, err := d.SendDue(context.Background()); err != nil {
			tb.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestADeliveryIsSignedRetriedAndSucceeds: the receiver fails the first
// try (500) and lets the second time out; the third succeeds. Every try
// carries the same webhook-id and a signature the receiver checks by the
// specification.
func TestADeliveryIsSignedRetriedAndSucceeds(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch n {
		case 1:
			http.Error(w, "down for a moment", http.StatusInternalServerError)
		case 2:
			select { // longer than the attempt may take
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	svc := devService(t, pool)
	desc := "CRM sync"
	hook, secret, err := svc.Create(ctx, webhooks.Input{URL: rc.URL + "/hooks", EventTypes: []string{"customer.*"}, Description: &desc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "whsec_") || hook.URL != rc.URL+"/hooks" {
		t.Fatalf("created %+v with secret %q", hook, secret)
	}
	var stored int
	if err := pool.Get(&stored, `SELECT count(*) FROM webhook_endpoint WHERE position($1::bytea IN secret_sealed) > 0`, []byte(secret)); err != nil || stored != 0 {
		t.Errorf("the secret is stored in the clear (%v)", err)
	}
	customer := createCustomers(t, pool, 1)[0]
	if _, err := db.InTx(ctx, pool, func(tx db.Tx) (*db.CustomerGroup, error) {
		return db.CreateGroup(ctx, tx, db.GroupFields{Name: "Not selected"}, nil)
	}); err != nil {
		t.Fatal(err)
	}
	rows := deliveries(t, pool, hook.ID)
	if len(rows) != 1 || rows[0].Status != "pending" || !strings.HasPrefix(rows[0].ID, "msg_") || len(rows[0].ID) != 30 {
		t.Fatalf("deliveries = %+v; want one pending msg_ delivery for customer.created only", rows)
	}

	// Retries wait a minute, and the test makes each due when it has looked
	// at the last, as if the minute had passed.
	d := dispatcher(t, pool, svc.Guard)
	d.Timeout, d.RetryBase, d.RetryMax, d.RetryWindow = 300*time.Millisecond, time.Minute, time.Minute, time.Hour
	wantAfter := func(n int, status, code string, response int) {
		t.Helper()
		if _, err := pool.Exec(`UPDATE webhook_delivery SET next_attempt_at = now() WHERE status = 'pending'`); err != nil {
			t.Fatal(err)
		}
		if n, err := d.SendDue(ctx); err != nil || n != 1 {
			t.Fatalf("SendDue = %d, %v; want the one delivery tried once", n, err)
		}
		row := deliveries(t, pool, hook.ID)[0]
		var gotCode string
		var gotResponse int
		if row.LastErrorCode != nil {
			gotCode = *row.LastErrorCode
		}
		if row.ResponseCode != nil {
			gotResponse = *row.ResponseCode
		}
		if row.Status != status || row.Attempts != n || gotCode != code || gotResponse != response {
			t.Errorf("after try %d: %+v; want %s, code %q, response %d", n, row, status, code, response)
		}
	}
	wantAfter(1, "pending", "HTTP_STATUS", 500)
	wantAfter(2, "pending", "TIMEOUT", 0)
	wantAfter(3, "succeeded", "", 204)
	if row := deliveries(t, pool, hook.ID)[0]; !row.Delivered || row.LastError != nil {
		t.Errorf("after success: %+v", row)
	}

	reqs := rc.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if got := r.header.Get("webhook-id"); got != rows[0].ID {
			t.Errorf("try %d: webhook-id %q, want %q every time", i+1, got, rows[0].ID)
		}
		if err := verify(secret, r.header, r.body); err != nil {
			t.Errorf("try %d: %v", i+1, err)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("try %d: Content-Type %q", i+1, ct)
		}
		if string(r.body) != string(reqs[0].body) {
			t.Errorf("try %d: the body changed:\n%s\n%s", i+1, r.body, reqs[0].body)
		}
	}
	var body struct {
		Type      string    `json:"type"`
		Timestamp time.Time `json:"timestamp"`
		Data      struct {
			ID         string         `json:"id"`
			Type       string         `json:"type"`
			ActorType  string         `json:"actor_type"`
			CustomerID string         `json:"customer_id"`
			Data       map[string]any `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(reqs[0].body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Type != "customer.created" || body.Data.Type != body.Type || !strings.HasPrefix(body.Data.ID, "evt_") ||
		body.Data.CustomerID != customer || body.Data.ActorType != "SYSTEM" || time.Since(body.Timestamp) > time.Minute ||
		!strings.HasSuffix(fmt.Sprint(body.Data.Data["email"]), "@example.com") {
		t.Errorf("body = %s", reqs[0].body)
	}
	// A tampered body fails the check.
	if err := verify(secret, reqs[2].header, append(reqs[2].body, ' ')); err == nil {
		t.Error("the verifier accepted a changed body")
	}
}

// TestGivingUpMarksTheEndpointFailingAndRedeliverySendsAgain: a receiver
// that always fails has its delivery given up once the retry window is
// spent, and its endpoint marked failing; redelivered, once it works, the
// delivery succeeds with the same webhook-id and the mark is cleared. An
// update clears the mark too.
func TestGivingUpMarksTheEndpointFailingAndRedeliverySendsAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
	})
	svc := devService(t, pool)
	hook, secret, err := svc.Create(ctx, webhooks.Input{URL: rc.URL, EventTypes: []string{"customer.created"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	createCustomers(t, pool, 1)
	d := dispatcher(t, pool, svc.Guard)
	d.RetryWindow = 300 * time.Millisecond
	sendUntil(t, d, func() bool { return deliveries(t, pool, hook.ID)[0].Status == "failed" })
	row := deliveries(t, pool, hook.ID)[0]
	// It is given up at the first failure whose retry would fall past the
	// window: within the longest delay (RetryMax) of its end.
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond-d.RetryMax || row.Attempts < 3 || !row.GivenUp ||
		row.LastErrorCode == nil || *row.LastErrorCode != "HTTP_STATUS" || row.ResponseCode == nil || *row.ResponseCode != 503 {
		t.Errorf("given up after %v: %+v", elapsed, row)
	}
	tries := len(rc.requests())
	if n, _ := d.SendDue(ctx); n != 0 || len(rc.requests()) != tries {
		t.Errorf("a given-up delivery was tried again")
	}
	got, err := db.WebhookByID(ctx, pool, hook.ID)
	if err != nil || !got.Failing() {
		t.Fatalf("endpoint after giving up: %+v, %v; want failing", got, err)
	}

	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	again, err := svc.Redeliver(ctx, row.ID)
	if err != nil || again.Status != db.DeliveryPending || again.ID != row.ID {
		t.Fatalf("Redeliver = %+v, %v", again, err)
	}
	sendUntil(t, d, func() bool { return deliveries(t, pool, hook.ID)[0].Status == "succeeded" })
	reqs := rc.requests()
	last := reqs[len(reqs)-1]
	if last.header.Get("webhook-id") != row.ID || verify(secret, last.header, last.body) != nil {
		t.Errorf("the redelivery: webhook-id %q (want %q), signature %v", last.header.Get("webhook-id"), row.ID, verify(secret, last.header, last.body))
	}
	if got, _ := db.WebhookByID(ctx, pool, hook.ID); got.Failing() {
		t.Error("a successful delivery left the endpoint failing")
	}

	// Redelivering a delivery that succeeded sends it once more.
	if _, err := svc.Redeliver(ctx, row.ID); err != nil {
		t.Fatal(err)
	}
	sendUntil(t, d, func() bool { return len(rc.requests()) == len(reqs)+1 })

	// Given up again, then updated: the update clears the mark.
	mu.Lock()
	status = http.StatusBadGateway
	mu.Unlock()
	createCustomers(t, pool, 1)
	sendUntil(t, d, func() bool { return deliveries(t, pool, hook.ID)[1].Status == "failed" })
	if got, _ := db.WebhookByID(ctx, pool, hook.ID); !got.Failing() {
		t.Fatal("not failing after the second give-up")
	}
	updated, err := svc.Update(ctx, hook.ID, webhooks.Changes{EventTypes: []string{"customer.*"}})
	if err != nil || updated.Failing() || updated.FailingSince != nil {
		t.Errorf("after an update: %+v, %v; want the failing mark cleared", updated, err)
	}
}

// TestTwoDispatchersNeverSendADeliveryTwice runs two dispatchers, each
// with several workers, on one database: each delivery reaches the
// receiver once, never while another send of it is under way.
func TestTwoDispatchersNeverSendADeliveryTwice(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	var mu sync.Mutex
	inFlight, sends := map[string]int{}, map[string]int{}
	overlaps := 0
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("webhook-id")
		mu.Lock()
		inFlight[id]++
		sends[id]++
		if inFlight[id] > 1 {
			overlaps++
		}
		mu.Unlock()
		time.Sleep(15 * time.Millisecond)
		mu.Lock()
		inFlight[id]--
		mu.Unlock()
	})
	svc := devService(t, pool)
	hook, _, err := svc.Create(context.Background(), webhooks.Input{URL: rc.URL, EventTypes: []string{"*"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	createCustomers(t, pool, n)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		d := dispatcher(t, pool, svc.Guard)
		d.Workers, d.Interval = 4, 10*time.Millisecond
		wg.Go(func() { d.Run(ctx) })
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var done int
		if err := pool.Get(&done, `SELECT count(*) FROM webhook_delivery WHERE endpoint_id = $1 AND status = 'succeeded'`, hook.ID); err != nil {
			t.Fatal(err)
		}
		if done == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries succeeded", done, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(sends) != n || overlaps != 0 {
		t.Errorf("%d deliveries reached the receiver, want %d; %d sends overlapped another of the same delivery", len(sends), n, overlaps)
	}
	for id, k := range sends {
		if k != 1 {
			t.Errorf("%s was sent %d times", id, k)
		}
	}
}

// TestAClaimIsALease: a claimed delivery is nobody else's until its lease
// ends, and a redelivery waits for the attempt under way.
func TestAClaimIsALease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	svc := devService(t, pool)
	if _, _, err := svc.Create(ctx, webhooks.Input{URL: "http://receiver.invalid/", EventTypes: []string{"*"}}, nil); err != nil {
		t.Fatal(err)
	}
	createCustomers(t, pool, 1)
	c, err := db.ClaimDelivery(ctx, pool, time.Minute)
	if err != nil || c == nil || c.Attempts != 1 || c.URL != "http://receiver.invalid/" || c.SecretSealed == nil {
		t.Fatalf("claim = %+v, %v", c, err)
	}
	if again, err := db.ClaimDelivery(ctx, pool, time.Minute); err != nil || again != nil {
		t.Errorf("claimed twice: %+v, %v", again, err)
	}
	if _, err := svc.Redeliver(ctx, c.ID); err == nil || !strings.Contains(err.Error(), "being sent now") {
		t.Errorf("redeliver during an attempt: %v; want CONFLICT", err)
	}
	// The lease ends without a record: the delivery is due again, and the
	// first claim's late outcome is not recorded over the second's.
	if _, err := pool.Exec(`UPDATE webhook_delivery SET next_attempt_at = now(), claimed_until = now()`); err != nil {
		t.Fatal(err)
	}
	second, err := db.ClaimDelivery(ctx, pool, time.Minute)
	if err != nil || second == nil || second.ID != c.ID || second.Attempts != 2 {
		t.Fatalf("after the lease: %+v, %v", second, err)
	}
	if err := db.MarkDeliverySucceeded(ctx, pool, c.ID, c.Attempts, 200); !errors.Is(err, db.ErrClaimLost) {
		t.Errorf("the first claim's outcome: %v; want ErrClaimLost", err)
	}
	if err := db.MarkDeliverySucceeded(ctx, pool, second.ID, second.Attempts, 200); err != nil {
		t.Errorf("the second claim's outcome: %v", err)
	}
}

// TestOldDeliveriesArePurged: deliveries that ended more than the
// retention ago go, pending ones stay, and an endpoint deleted that long
// ago goes with all of its deliveries.
func TestOldDeliveriesArePurged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	svc := devService(t, pool)
	kept, _, err := svc.Create(ctx, webhooks.Input{URL: "http://kept.invalid/", EventTypes: []string{"*"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := svc.Create(ctx, webhooks.Input{URL: "http://gone.invalid/", EventTypes: []string{"*"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	createCustomers(t, pool, 4)
	rows := deliveries(t, pool, kept.ID)
	// Two ended long ago, one recently; one is still pending.
	if _, err := pool.Exec(`UPDATE webhook_delivery SET status = 'succeeded', last_attempt_at = now() - interval '31 days'
		WHERE id IN ($1, $2)`, rows[0].ID, rows[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(`UPDATE webhook_delivery SET status = 'failed', last_attempt_at = now() - interval '1 day'
		WHERE id = $1`, rows[2].ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(`UPDATE webhook_endpoint SET deleted_at = now() - interval '31 days' WHERE id = $1`, gone.ID); err != nil {
		t.Fatal(err)
	}
	n, err := db.PurgeWebhookDeliveries(ctx, pool, webhooks.Retention)
	if err != nil || n != 2+4 {
		t.Errorf("purged %d deliveries (%v), want 2 ended long ago and the deleted endpoint's 4", n, err)
	}
	if left := deliveries(t, pool, kept.ID); len(left) != 2 || left[0].ID != rows[2].ID || left[1].ID != rows[3].ID {
		t.Errorf("left %+v, want the recent and the pending ones", left)
	}
	var endpoints int
	if err := pool.Get(&endpoints, `SELECT count(*) FROM webhook_endpoint`); err != nil || endpoints != 1 {
		t.Errorf("%d endpoints left (%v), want 1", endpoints, err)
	}
}
