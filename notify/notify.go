// Package notify delivers the messages of the notification outbox: every
// message that carries a token (password resets, order transfers) is
// written to the outbox in the transaction that creates the token, and a
// Dispatcher sends it after commit, retrying until it goes out, its token
// expires or the mail server refuses it for good.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
)

// Message is an email to send.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Sender delivers messages.
type Sender interface {
	// Send delivers m. An error that wraps ErrRejected means m will never
	// be accepted; any other error is worth another try.
	Send(ctx context.Context, m Message) error
}

// ErrRejected is wrapped by a Sender's error when the message itself was
// refused for good (an unknown mailbox, content refused), so trying again
// would only be refused again.
var ErrRejected = errors.New("the mail server refused the message for good")

// LogSender writes messages to the log instead of sending them: the local
// default, so a developer can read reset and transfer tokens.
type LogSender struct{ Logger *slog.Logger }

// Send logs m.
func (s LogSender) Send(ctx context.Context, m Message) error {
	s.Logger.InfoContext(ctx, "email (not sent: no SMTP server is configured)", "to", m.To, "subject", m.Subject, "body", m.Body)
	return nil
}

// Dispatcher drains the outbox.
type Dispatcher struct {
	DB     *sqlx.DB
	Sender Sender
	Logger *slog.Logger
	// Interval is how often the outbox is polled; a second when 0.
	Interval time.Duration
}

// batchSize is how many messages one SendDue tries.
const batchSize = 20

// lease is how long a claimed message is left to its dispatcher: more than
// a send can take (SMTPSender gives up after 40 s), so that a message is
// tried by another dispatcher only when this one has died.
const lease = 2 * time.Minute

// markTimeout bounds recording what became of a message. The record is made
// even when ctx has just been cancelled (at shutdown): a message sent and
// not recorded would go out again when its lease ends.
const markTimeout = 5 * time.Second

// Run sends due messages until ctx is done.
func (d *Dispatcher) Run(ctx context.Context) {
	interval := d.Interval
	if interval == 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := d.SendDue(ctx)
			if err != nil && ctx.Err() == nil {
				d.Logger.ErrorContext(ctx, "notification outbox", "error", err)
			}
			if err != nil || n < batchSize {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SendDue sends up to batchSize due messages and returns how many it
// tried. Each is claimed for a lease, so dispatchers sharing the outbox
// never send one at the same time, and what became of it is recorded at
// once: sent (and its token forgotten), failed and tried again later with a
// growing delay, or given up when its token expires or the mail server
// refuses it for good.
func (d *Dispatcher) SendDue(ctx context.Context) (int, error) {
	expired, err := db.AbandonExpiredNotifications(ctx, d.DB)
	if err != nil {
		return 0, err
	}
	if expired > 0 {
		d.Logger.WarnContext(ctx, "notifications expired before they could be sent", "count", expired)
	}
	for tried := 0; tried < batchSize; tried++ {
		if ctx.Err() != nil {
			return tried, ctx.Err()
		}
		n, err := db.ClaimNotification(ctx, d.DB, lease)
		if err != nil || n == nil {
			return tried, err
		}
		if err := d.send(ctx, n); err != nil {
			return tried + 1, err
		}
	}
	return batchSize, nil
}

// send sends one claimed message and records the outcome.
func (d *Dispatcher) send(ctx context.Context, n *db.Notification) error {
	// Whatever the Sender, a send ends well within the lease, so no other
	// dispatcher takes the message while it may still be going out.
	sendCtx, cancelSend := context.WithTimeout(ctx, lease/2)
	err := d.Sender.Send(sendCtx, render(n))
	cancelSend()
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	switch {
	case err == nil:
		return db.MarkNotificationSent(markCtx, d.DB, n.ID)
	case errors.Is(err, ErrRejected):
		d.Logger.WarnContext(ctx, "notification refused; given up", "id", n.ID, "error", err)
		return db.MarkNotificationAbandoned(markCtx, d.DB, n.ID, err.Error())
	default:
		retry := time.Now().Add(backoff(n.Attempts))
		d.Logger.WarnContext(ctx, "notification not sent; will retry", "id", n.ID, "attempt", n.Attempts+1, "retry_at", retry, "error", err)
		return db.MarkNotificationFailed(markCtx, d.DB, n.ID, err.Error(), retry)
	}
}

// backoff is the delay before attempt n+1: 5s, 10s, 20s ... up to an hour.
func backoff(attempts int) time.Duration {
	d := 5 * time.Second << min(attempts, 10)
	return min(d, time.Hour)
}

// render turns an outbox row into an email.
func render(n *db.Notification) Message {
	m := Message{To: n.Recipient}
	switch n.Template {
	case "password_reset":
		m.Subject = "Reset your password"
		m.Body = fmt.Sprintf("Someone asked to reset the password of %s. If it was you, use this token within the hour: %v\n"+
			"If it was not, ignore this message.", n.Recipient, n.Data["token"])
	case "order_transfer":
		m.Subject = fmt.Sprintf("Transfer of order #%v", n.Data["display_id"])
		who := "A customer account asked"
		if byStore, _ := n.Data["by_store"].(bool); byStore {
			who = "The store asked, for a customer account,"
		}
		m.Body = fmt.Sprintf("%s to take over order #%v, placed with this email. "+
			"To accept, use this token within 24 hours: %v\nTo refuse, decline it with the same token, or ignore this message.",
			who, n.Data["display_id"], n.Data["token"])
		if d, ok := n.Data["description"].(string); ok && d != "" {
			m.Body += "\n\nTheir note: " + d
		}
	case "email_verification":
		m.Subject = "Confirm your email"
		m.Body = fmt.Sprintf("Confirm that %s is your email: use this token within 24 hours (verify_email): %v\n"+
			"If you did not sign up, ignore this message.", n.Recipient, n.Data["token"])
	case "email_change":
		m.Subject = "Confirm your new email"
		m.Body = fmt.Sprintf("An account asked to change its email to %s. To confirm, use this token within the hour "+
			"(verify_email): %v\nIf it was not you, ignore this message: nothing changes.", n.Recipient, n.Data["token"])
	case "email_changed":
		m.Subject = "Your email was changed"
		m.Body = fmt.Sprintf("The email of your account was changed from %s to %v at %v. "+
			"If you did not do this, contact us at once.", n.Recipient, n.Data["new_email"], n.Data["changed_at"])
	case "account_deletion":
		m.Subject = "Confirm the deletion of your account"
		m.Body = fmt.Sprintf("Someone signed in to the account of %s asked to delete it. If it was you, confirm with this token within 24 hours: %v\n"+
			"The account is then deleted after %v, unless you cancel it. If it was not you, ignore this message and change your password.",
			n.Recipient, n.Data["token"], n.Data["grace"])
	case "account_deletion_scheduled":
		m.Subject = "Your account will be deleted"
		m.Body = fmt.Sprintf("The deletion of your account is confirmed: it will be anonymized at %v. "+
			"Until then, sign in and cancel it if you change your mind.", n.Data["scheduled_for"])
	default:
		m.Subject = n.Template
		m.Body = fmt.Sprint(n.Data)
	}
	return m
}
