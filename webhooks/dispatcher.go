package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"customerservice/db"
)

// The delivery policy; README.md ("Webhooks") gives the schedule it makes.
const (
	// DefaultTimeout bounds an attempt, from connecting to the end of the
	// answer: a receiver should answer at once and do its work later.
	DefaultTimeout = 10 * time.Second
	// DefaultRetryBase is the delay after the first failure; each failure
	// doubles it, up to DefaultRetryMax.
	DefaultRetryBase = 30 * time.Second
	// DefaultRetryMax caps the delay between attempts.
	DefaultRetryMax = 2 * time.Hour
	// DefaultRetryWindow is how long a delivery is tried before it is given
	// up and its endpoint marked failing.
	DefaultRetryWindow = 24 * time.Hour
	// DefaultWorkers is how many deliveries a dispatcher sends at once, so
	// that a slow receiver holds up only its own.
	DefaultWorkers = 4
	// Retention is how long ended deliveries, and deleted endpoints, are
	// kept for the API to show.
	Retention = 30 * 24 * time.Hour
)

// maxAnswer is how much of an answer's body is read: receivers answer
// with little, and reading it lets the connection be used again.
const maxAnswer = 64 << 10

// markTimeout bounds recording an outcome, which is made even when the
// dispatcher's context has just been cancelled (at shutdown): a delivery
// sent and not recorded would go out again when its lease ends.
const markTimeout = 5 * time.Second

// Dispatcher sends the pending deliveries. Dispatchers on several servers
// share them: each delivery is claimed for a lease (FOR UPDATE SKIP
// LOCKED), so two never send one at the same time.
type Dispatcher struct {
	DB *sqlx.DB
	// Sealer opens the endpoints' secrets to sign; required.
	Sealer *Sealer
	// Guard decides which addresses deliveries may reach, and dials them;
	// required.
	Guard  *Guard
	Logger *slog.Logger
	// Interval is how often deliveries are looked for when none was due;
	// a second when 0.
	Interval time.Duration
	// Workers is how many deliveries are sent at once; DefaultWorkers when 0.
	Workers int
	// Timeout bounds an attempt; DefaultTimeout when 0.
	Timeout time.Duration
	// RetryBase, RetryMax and RetryWindow are the backoff (see the
	// defaults); tests shorten them.
	RetryBase, RetryMax, RetryWindow time.Duration

	once   sync.Once
	client *http.Client
}

func (d *Dispatcher) timeout() time.Duration { return orDefault(d.Timeout, DefaultTimeout) }

// lease is how long a claimed delivery is left to its dispatcher: well
// past an attempt's timeout, so that another takes it only when this one
// has died.
func (d *Dispatcher) lease() time.Duration { return d.timeout() + time.Minute }

func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// httpClient is the client of every attempt: it dials through the Guard,
// ignores proxy settings (a proxy would connect on the server's behalf to
// addresses the Guard never saw) and follows no redirect, whose target
// would escape the checks on the endpoint's URL: a 3xx is the answer, and
// a failure.
func (d *Dispatcher) httpClient() *http.Client {
	d.once.Do(func() {
		d.client = &http.Client{
			Transport: &http.Transport{
				Proxy:                  nil,
				DialContext:            d.Guard.DialContext,
				ForceAttemptHTTP2:      true,
				MaxIdleConns:           32,
				MaxIdleConnsPerHost:    2,
				IdleConnTimeout:        90 * time.Second,
				TLSHandshakeTimeout:    d.timeout(),
				MaxResponseHeaderBytes: 64 << 10,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
	return d.client
}

// Run sends deliveries as they fall due, up to Workers at once, and purges
// old ones hourly, until ctx is done; then it waits for the attempts under
// way.
func (d *Dispatcher) Run(ctx context.Context) {
	workers := d.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	interval := d.Interval
	if interval == 0 {
		interval = time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	d.purge(ctx)

	var attempts sync.WaitGroup
	defer attempts.Wait()
	slots := make(chan struct{}, workers)
	// freed wakes the loop when an attempt ends, so that a backlog is sent
	// without waiting for the tick.
	freed := make(chan struct{}, 1)
	for {
	claim:
		for ctx.Err() == nil {
			select {
			case slots <- struct{}{}:
			default:
				break claim // every worker is busy
			}
			c, err := db.ClaimDelivery(ctx, d.DB, d.lease())
			if err != nil || c == nil {
				<-slots
				if err != nil && ctx.Err() == nil {
					d.Logger.ErrorContext(ctx, "webhook deliveries", "error", err)
				}
				break
			}
			attempts.Go(func() {
				defer func() {
					<-slots
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
				d.attempt(ctx, c)
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-freed:
		case <-purge.C:
			d.purge(ctx)
		}
	}
}

func (d *Dispatcher) purge(ctx context.Context) {
	n, err := db.PurgeWebhookDeliveries(ctx, d.DB, Retention)
	switch {
	case err != nil && ctx.Err() == nil:
		d.Logger.WarnContext(ctx, "purge webhook deliveries", "error", err)
	case n > 0:
		d.Logger.InfoContext(ctx, "purged webhook deliveries", "count", n)
	}
}

// SendDue sends the deliveries due now, one after the other, and returns
// how many it tried; Run is the concurrent loop servers use.
func (d *Dispatcher) SendDue(ctx context.Context) (int, error) {
	for tried := 0; ; tried++ {
		if err := ctx.Err(); err != nil {
			return tried, err
		}
		c, err := db.ClaimDelivery(ctx, d.DB, d.lease())
		if err != nil || c == nil {
			return tried, err
		}
		d.attempt(ctx, c)
	}
}

// attempt sends a claimed delivery and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, c *db.ClaimedDelivery) {
	code, failure := d.send(ctx, c)
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if failure == nil {
		err := db.MarkDeliverySucceeded(markCtx, d.DB, c.ID, c.Attempts, code)
		d.logMarkError(ctx, c, err)
		return
	}
	retryIn := d.backoff(c.Attempts)
	gaveUp, err := db.MarkDeliveryFailed(markCtx, d.DB, c.ID, c.Attempts, *failure, retryIn, orDefault(d.RetryWindow, DefaultRetryWindow))
	if err != nil {
		d.logMarkError(ctx, c, err)
		return
	}
	if gaveUp {
		d.Logger.WarnContext(ctx, "webhook delivery given up; its endpoint is marked failing", "delivery", c.ID,
			"webhook", c.WebhookID, "event_type", c.EventType, "attempts", c.Attempts, "error", failure.Message)
		return
	}
	d.Logger.InfoContext(ctx, "webhook delivery failed; will retry", "delivery", c.ID, "webhook", c.WebhookID,
		"attempt", c.Attempts, "retry_in", retryIn.Round(time.Millisecond), "code", failure.Code, "error", failure.Message)
}

func (d *Dispatcher) logMarkError(ctx context.Context, c *db.ClaimedDelivery, err error) {
	switch {
	case errors.Is(err, db.ErrClaimLost):
		// Another dispatcher took it after the lease, or an admin
		// redelivered it: the newer claim's outcome stands.
		d.Logger.WarnContext(ctx, "webhook delivery outcome not recorded: its claim was lost", "delivery", c.ID)
	case err != nil:
		d.Logger.ErrorContext(ctx, "record webhook delivery", "delivery", c.ID, "error", err)
	}
}

// backoff is the delay after the attempt-th failure: RetryBase doubled
// with each failure up to RetryMax, then a random part of it taken off
// (between none and half), so that the deliveries of many events that
// failed together, when a receiver went down, do not come back together.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	base, most := orDefault(d.RetryBase, DefaultRetryBase), orDefault(d.RetryMax, DefaultRetryMax)
	delay := most
	if shift := attempt - 1; shift < 40 && base<<shift < most && base<<shift > 0 {
		delay = base << shift
	}
	return delay - time.Duration(rand.Int64N(int64(delay/2)+1))
}

// send makes one attempt and returns the receiver's status, or what went
// wrong.
func (d *Dispatcher) send(ctx context.Context, c *db.ClaimedDelivery) (int, *db.DeliveryFailure) {
	internal := func(format string, args ...any) (int, *db.DeliveryFailure) {
		msg := fmt.Sprintf(format, args...)
		d.Logger.ErrorContext(ctx, "webhook delivery cannot be made", "delivery", c.ID, "error", msg)
		return 0, &db.DeliveryFailure{Code: db.DeliveryInternal, Message: msg}
	}
	events, err := db.EventsBySeq(ctx, d.DB, []int64{c.EventSeq})
	if err != nil {
		return internal("read the event: %v", err)
	}
	if len(events) == 0 {
		return internal("the event %s is not in the log", c.EventID())
	}
	payload, err := body(events[0])
	if err != nil {
		return internal("encode the event: %v", err)
	}
	secrets := make([]string, 0, 2)
	for _, sealed := range [][]byte{c.SecretSealed, c.PreviousSecretSealed} {
		if sealed == nil {
			continue
		}
		s, err := d.Sealer.Open(c.WebhookID, sealed)
		if err != nil {
			return internal("%v", err)
		}
		secrets = append(secrets, s)
	}
	// The timestamp is the attempt's, not the event's: receivers refuse
	// messages whose timestamp is far from their clock, as a defence
	// against replays, and a retry may come hours after the event.
	timestamp := time.Now().Unix()
	sig, err := signature(secrets, c.ID, timestamp, payload)
	if err != nil {
		return internal("sign: %v", err)
	}

	attemptCtx, cancel := context.WithTimeout(ctx, d.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(attemptCtx, http.MethodPost, c.URL, bytes.NewReader(payload))
	if err != nil {
		return internal("make the request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "customerservice-webhooks/1")
	req.Header.Set("webhook-id", c.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(timestamp, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := d.httpClient().Do(req)
	if err != nil {
		return 0, classify(attemptCtx, err)
	}
	defer resp.Body.Close()
	// The whole answer belongs to the attempt: a receiver that sends its
	// status and then stalls has not answered in time.
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer)); err != nil {
		f := classify(attemptCtx, err)
		f.ResponseCode = &resp.StatusCode
		return 0, f
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return 0, &db.DeliveryFailure{Code: db.DeliveryHTTPStatus, ResponseCode: &resp.StatusCode,
			Message: fmt.Sprintf("the receiver answered %s", resp.Status)}
	}
	return resp.StatusCode, nil
}

// classify names why a request failed, in words an admin can act on.
func classify(ctx context.Context, err error) *db.DeliveryFailure {
	if ae, ok := errors.AsType[*AddressError](err); ok {
		return &db.DeliveryFailure{Code: db.DeliveryAddressNotAllowed, Message: "refused: " + ae.Error()}
	}
	if netErr, ok := errors.AsType[net.Error](err); ok && netErr.Timeout() || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &db.DeliveryFailure{Code: db.DeliveryTimeout, Message: "no answer in time"}
	}
	return &db.DeliveryFailure{Code: db.DeliveryConnectionFailed, Message: connectionError(err)}
}

// connectionError is err without the URL, which the API shows beside it.
func connectionError(err error) string {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return "the host does not resolve: " + dnsErr.Err
	case errors.As(err, &opErr):
		return "connection failed: " + opErr.Err.Error()
	case errors.Is(err, errNoAddress):
		return "the host has no address"
	}
	var urlErr interface{ Unwrap() error }
	if errors.As(err, &urlErr) && urlErr.Unwrap() != nil {
		return "request failed: " + urlErr.Unwrap().Error()
	}
	return "request failed: " + err.Error()
}
