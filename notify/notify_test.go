package notify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/notify"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// recorder is a Sender that remembers what it sent, or fails.
type recorder struct {
	mu     sync.Mutex
	sent   []notify.Message
	fail   bool
	refuse string // a recipient refused for good
}

func (r *recorder) Send(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("mail server down")
	}
	if m.To == r.refuse {
		return fmt.Errorf("%w: 550 no such user", notify.ErrRejected)
	}
	r.sent = append(r.sent, m)
	return nil
}

func TestOutboxIsSentOnceAndRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	if err := db.EnqueueNotification(ctx, pool, "a@example.com", "password_reset", db.JSONObject{"token": "secret-1"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{fail: true}
	d := &notify.Dispatcher{DB: pool, Sender: rec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}

	// A failure keeps the message, for later.
	if n, err := d.SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("SendDue = %d, %v", n, err)
	}
	var attempts int
	var lastError string
	if err := pool.QueryRow(`SELECT attempts, last_error FROM notification`).Scan(&attempts, &lastError); err != nil || attempts != 1 || lastError != "mail server down" {
		t.Errorf("after a failure: attempts %d, last_error %q (%v)", attempts, lastError, err)
	}
	if n, _ := d.SendDue(ctx); n != 0 {
		t.Errorf("a failed message was retried at once")
	}

	// When it is due again, it goes out once, and its token is forgotten.
	rec.fail = false
	if _, err := pool.Exec(`UPDATE notification SET next_attempt_at = now()`); err != nil {
		t.Fatal(err)
	}
	if err := db.EnqueueNotification(ctx, pool, "b@example.com", "order_transfer", db.JSONObject{"token": "secret-2", "display_id": 7}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 { // dispatchers racing for the outbox
		wg.Add(1)
		go func() { defer wg.Done(); d.SendDue(ctx) }()
	}
	wg.Wait()
	d.SendDue(ctx)
	if len(rec.sent) != 2 {
		t.Fatalf("sent %d messages, want 2 exactly once each: %+v", len(rec.sent), rec.sent)
	}
	for _, m := range rec.sent {
		if m.To == "a@example.com" && (m.Subject != "Reset your password" || !strings.Contains(m.Body, "secret-1")) ||
			m.To == "b@example.com" && (m.Subject != "Transfer of order #7" || !strings.Contains(m.Body, "secret-2")) {
			t.Errorf("message = %+v", m)
		}
	}
	var left int
	if err := pool.Get(&left, `SELECT count(*) FROM notification WHERE sent_at IS NULL OR data ? 'token'`); err != nil || left != 0 {
		t.Errorf("%d messages unsent or still holding their token (%v)", left, err)
	}
}

func TestOutboxGivesUpWhatCannotGoOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	later := time.Now().Add(time.Hour)
	for _, m := range []struct {
		to      string
		expires time.Time
	}{
		{"late@example.com", time.Now().Add(-time.Minute)}, // its token has expired
		{"gone@example.com", later},                        // the server refuses it
		{"ok@example.com", later},
	} {
		if err := db.EnqueueNotification(ctx, pool, m.to, "password_reset", db.JSONObject{"token": "secret"}, m.expires); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{refuse: "gone@example.com"}
	d := &notify.Dispatcher{DB: pool, Sender: rec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if n, err := d.SendDue(ctx); err != nil || n != 2 {
		t.Fatalf("SendDue = %d, %v; want the 2 messages still worth sending", n, err)
	}
	if len(rec.sent) != 1 || rec.sent[0].To != "ok@example.com" {
		t.Fatalf("sent %+v", rec.sent)
	}

	// Given up for good: not retried when due again, and the token is gone.
	if _, err := pool.Exec(`UPDATE notification SET next_attempt_at = now() WHERE sent_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if n, err := d.SendDue(ctx); err != nil || n != 0 {
		t.Errorf("SendDue = %d, %v; want nothing left to try", n, err)
	}
	rows := map[string]string{}
	var got []struct {
		Recipient string `db:"recipient"`
		LastError string `db:"last_error"`
	}
	err := pool.Select(&got, `SELECT recipient, last_error FROM notification
		WHERE abandoned_at IS NOT NULL AND sent_at IS NULL AND NOT data ? 'token'`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		rows[r.Recipient] = r.LastError
	}
	if len(rows) != 2 || rows["late@example.com"] != "expired before it could be sent" ||
		!strings.Contains(rows["gone@example.com"], "550 no such user") {
		t.Errorf("abandoned messages: %q", rows)
	}
}

// blocking is a Sender that holds every message until released.
type blocking struct {
	started chan notify.Message
	release chan struct{}
}

func (b *blocking) Send(_ context.Context, m notify.Message) error {
	b.started <- m
	<-b.release
	return nil
}

func TestASlowSendHoldsOnlyItsOwnMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	for _, to := range []string{"first@example.com", "second@example.com"} {
		if err := db.EnqueueNotification(ctx, pool, to, "password_reset", db.JSONObject{"token": "t"}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	slow := &blocking{started: make(chan notify.Message, 2), release: make(chan struct{})}
	done := make(chan int)
	go func() {
		n, _ := (&notify.Dispatcher{DB: pool, Sender: slow, Logger: logger}).SendDue(ctx)
		done <- n
	}()
	if m := <-slow.started; m.To != "first@example.com" {
		t.Fatalf("the slow dispatcher took %s first", m.To)
	}

	// While the first server waits on its mail server, another sends the
	// next message: the first holds no batch and no transaction.
	rec := &recorder{}
	if n, err := (&notify.Dispatcher{DB: pool, Sender: rec, Logger: logger}).SendDue(ctx); err != nil || n != 1 {
		t.Fatalf("second dispatcher: SendDue = %d, %v", n, err)
	}
	if len(rec.sent) != 1 || rec.sent[0].To != "second@example.com" {
		t.Errorf("second dispatcher sent %+v", rec.sent)
	}
	close(slow.release)
	if n := <-done; n != 1 {
		t.Errorf("the slow dispatcher tried %d messages, want 1", n)
	}
	var unsent int
	if err := pool.Get(&unsent, `SELECT count(*) FROM notification WHERE sent_at IS NULL`); err != nil || unsent != 0 {
		t.Errorf("%d messages unsent (%v)", unsent, err)
	}
}

func TestAClaimIsALease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	if err := db.EnqueueNotification(ctx, pool, "a@example.com", "password_reset", db.JSONObject{"token": "t"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	n, err := db.ClaimNotification(ctx, pool, 2*time.Minute)
	if err != nil || n == nil {
		t.Fatalf("claim = %v, %v", n, err)
	}
	// Nobody else gets it while the lease runs...
	if again, err := db.ClaimNotification(ctx, pool, 2*time.Minute); err != nil || again != nil {
		t.Errorf("claimed twice: %v, %v", again, err)
	}
	var left time.Duration
	if err := pool.Get(&left, `SELECT (extract(epoch FROM next_attempt_at - now()) * 1e9)::bigint FROM notification`); err != nil ||
		left < time.Minute+50*time.Second || left > 2*time.Minute {
		t.Errorf("lease ends in %v (%v), want about 2 minutes", left, err)
	}
	// ... and when it ends without a record of the send, it is due again.
	if _, err := pool.Exec(`UPDATE notification SET next_attempt_at = now()`); err != nil {
		t.Fatal(err)
	}
	if again, err := db.ClaimNotification(ctx, pool, 2*time.Minute); err != nil || again == nil || again.ID != n.ID {
		t.Errorf("after the lease: %v, %v", again, err)
	}
}
