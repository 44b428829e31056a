package notify_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"customerservice/db"
	"customerservice/db/dbtest"
	"customerservice/notify"
)

// counter is a Sender that counts how often each token went out.
type counter struct {
	mu    sync.Mutex
	sends map[string]int
}

var tokenInBody = regexp.MustCompile(`token-\d+`)

func (c *counter) Send(_ context.Context, m notify.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sends[tokenInBody.FindString(m.Body)]++
	return nil
}

// Several dispatchers drain one outbox at once, as the servers of a
// deployment do: they are released together, so their claims collide on
// the oldest due message again and again, and each message must still go
// out exactly once. A claim that does not lock its row (or does not skip a
// locked one) lets two dispatchers take the same message.
func TestDispatchersSharingTheOutboxSendEachMessageOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.New(t)
	const messages, dispatchers = 300, 8
	for i := range messages {
		if err := db.EnqueueNotification(ctx, pool, fmt.Sprintf("user%d@example.com", i), "password_reset",
			db.JSONObject{"token": fmt.Sprintf("token-%d", i)}, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	sender := &counter{sends: map[string]int{}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for range dispatchers {
		d := &notify.Dispatcher{DB: pool, Sender: sender, Logger: logger}
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			for {
				n, err := d.SendDue(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
			}
		})
	}
	ready.Wait()
	close(start)
	done.Wait()

	twice := 0
	for i := range messages {
		switch n := sender.sends[fmt.Sprintf("token-%d", i)]; {
		case n == 0:
			t.Errorf("token-%d was never sent", i)
		case n > 1:
			twice++
			t.Errorf("token-%d was sent %d times", i, n)
		}
	}
	if len(sender.sends) != messages {
		t.Errorf("%d distinct messages sent, want %d", len(sender.sends), messages)
	}
	var pending, tokens int
	pool.Get(&pending, `SELECT count(*) FROM notification WHERE sent_at IS NULL`)
	pool.Get(&tokens, `SELECT count(*) FROM notification WHERE data ? 'token'`)
	if pending != 0 || tokens != 0 {
		t.Errorf("%d messages left unsent, %d tokens kept after sending", pending, tokens)
	}
	t.Logf("%d dispatchers, %d messages: %d sent more than once", dispatchers, messages, twice)
}

// A recipient refused for good at RCPT with 551 (user not local) or 553
// (mailbox name not allowed), with no enhanced status, is given up: the
// message is abandoned with the server's reason, and its token erased.
// The same codes at DATA are not about the recipient and are retried.
func TestRefusedRecipientsAreGivenUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		replies   replies
		abandoned bool
	}{
		{replies{"551 user not local; please try <forward@example.net>", "250 queued"}, true},
		{replies{"553 mailbox name not allowed", "250 queued"}, true},
		{replies{"550 mailbox unavailable", "250 queued"}, true},
		{replies{"250 ok", "553 requested action not taken"}, false},
		{replies{"250 ok", "551 odd reply at DATA"}, false},
		{replies{"554 no valid recipients", "250 queued"}, false},
	} {
		ln := listen(t)
		smtpServer(t, ln, nil, tt.replies)
		sender := &notify.SMTPSender{Addr: ln.Addr().String(), From: "shop@example.com"}
		err := sender.Send(ctx, notify.Message{To: "gone@example.com", Subject: "s", Body: "b"})
		if err == nil || errors.Is(err, notify.ErrRejected) != tt.abandoned {
			t.Errorf("%+v: Send = %v, want given up: %v", tt.replies, err, tt.abandoned)
		}

		pool := dbtest.New(t)
		if err := db.EnqueueNotification(ctx, pool, "gone@example.com", "password_reset", db.JSONObject{"token": "secret"}, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		d := &notify.Dispatcher{DB: pool, Sender: sender, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if n, err := d.SendDue(ctx); n != 1 || err != nil {
			t.Fatalf("%+v: SendDue = %d, %v", tt.replies, n, err)
		}
		var abandoned, token bool
		var lastError string
		if err := pool.QueryRow(`SELECT abandoned_at IS NOT NULL, data ? 'token', coalesce(last_error, '') FROM notification`).Scan(&abandoned, &token, &lastError); err != nil {
			t.Fatal(err)
		}
		if abandoned != tt.abandoned || token == tt.abandoned || lastError == "" {
			t.Errorf("%+v: abandoned %v, token kept %v, last_error %q; want abandoned %v with the token erased only then",
				tt.replies, abandoned, token, lastError, tt.abandoned)
		}
	}
}
