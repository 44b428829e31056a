package db

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/errcode"
)

// Event is a row of the event log (migration 0013): a change the API
// made, written by triggers in the change's transaction.
type Event struct {
	Seq        int64          `db:"seq"`
	Type       string         `db:"type"`
	CreatedAt  time.Time      `db:"created_at"`
	ActorType  EventActorType `db:"actor_type"`
	ActorID    *string        `db:"actor_id"`
	RequestID  *string        `db:"request_id"`
	CustomerID *string        `db:"customer_id"`
	GroupID    *string        `db:"group_id"`
	AddressID  *string        `db:"address_id"`
	OrderID    *string        `db:"order_id"`
	IdentityID *string        `db:"identity_id"`
	Changes    JSONObject     `db:"changes"`
	Data       JSONObject     `db:"data"`
}

// EventActorType is who made a change.
type EventActorType string

// The actors of the event log.
const (
	ActorUser     EventActorType = "user"
	ActorCustomer EventActorType = "customer"
	ActorGuest    EventActorType = "guest"
	ActorSystem   EventActorType = "system"
)

// ID is the event's id in the API: its sequence number, zero-padded so that
// ids sort as events were written.
func (e *Event) ID() string { return fmt.Sprintf("evt_%016d", e.Seq) }

// ParseEventID returns the sequence number of an event id. Returns
// INVALID_DATA, naming field, for anything else.
func ParseEventID(field, id string) (int64, error) {
	digits, ok := strings.CutPrefix(id, "evt_")
	n, err := strconv.ParseInt(digits, 10, 64)
	if !ok || err != nil || n < 1 {
		return 0, errcode.Invalid(field, "%q is not an event id", id)
	}
	return n, nil
}

const eventColumns = `e.seq, e.type, e.created_at, e.actor_type, e.actor_id, e.request_id, e.customer_id, e.group_id,
	e.address_id, e.order_id, e.identity_id, e.changes, e.data`

func eventTargets(e *Event) []any {
	return []any{&e.Seq, &e.Type, &e.CreatedAt, &e.ActorType, &e.ActorID, &e.RequestID, &e.CustomerID, &e.GroupID,
		&e.AddressID, &e.OrderID, &e.IdentityID, &e.Changes, &e.Data}
}

// EventActor is who makes the changes of a context's transactions, and in
// which request, for the event log's triggers.
type EventActor struct {
	Type          EventActorType
	ID, RequestID string
}

type eventActorKey struct{}

// WithEventActor returns a context whose transactions tell the event log
// that a is acting.
func WithEventActor(ctx context.Context, a EventActor) context.Context {
	return context.WithValue(ctx, eventActorKey{}, a)
}

// setEventActor tells the triggers of the transaction q runs in who acts,
// when ctx says; without it, changes are the system's.
func setEventActor(ctx context.Context, q sqlx.ExecerContext) error {
	a, ok := ctx.Value(eventActorKey{}).(EventActor)
	if !ok {
		return nil
	}
	const query = `SELECT set_config('app.actor_type', $1, true), set_config('app.actor_id', $2, true),
		set_config('app.request_id', $3, true)`
	if _, err := q.ExecContext(ctx, query, string(a.Type), a.ID, a.RequestID); err != nil {
		return fmt.Errorf("set event actor: %w", err)
	}
	return nil
}

// EventFilter selects events; empty fields select all.
type EventFilter struct {
	Types      []string
	CustomerID *string
	GroupID    *string
	CreatedAt  *TimeRange
}

// EventCursor is where a page of events starts: before (newest first) the
// event with sequence number Before, or at the newest when both are 0; or,
// going the other way (oldest first), after the event with sequence number
// After, which is how a subscription replays what it missed.
type EventCursor struct {
	Before int64
	After  int64
}

// NewEventPageLimit checks how many events a page asks for: 1 to
// MaxLimit. Returns INVALID_DATA naming limit otherwise.
func NewEventPageLimit(limit int) (int, error) {
	if limit < 1 || limit > MaxLimit {
		return 0, errcode.Invalid("limit", "limit must be between 1 and %d, got %d", MaxLimit, limit)
	}
	return limit, nil
}

// ParseEventCursor reads an opaque cursor the API gave out. Returns
// INVALID_DATA naming field for anything else.
func ParseEventCursor(field string, s *string) (EventCursor, error) {
	if s == nil || *s == "" {
		return EventCursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*s)
	n, perr := strconv.ParseInt(strings.TrimPrefix(string(raw), "before:"), 10, 64)
	if err != nil || perr != nil || !strings.HasPrefix(string(raw), "before:") || n < 1 {
		return EventCursor{}, errcode.Invalid(field, "%q is not a cursor this API gave out", *s)
	}
	return EventCursor{Before: n}, nil
}

// Next returns the cursor of the page after the one that ends with e.
func (e *Event) Next() string {
	return base64.RawURLEncoding.EncodeToString([]byte("before:" + strconv.FormatInt(e.Seq, 10)))
}

// ListEvents returns up to limit events the filter selects from the
// cursor on: newest first, or oldest first when the cursor is After an
// event.
func ListEvents(ctx context.Context, q sqlx.QueryerContext, f EventFilter, from EventCursor, limit int) ([]*Event, error) {
	var c conds
	if len(f.Types) > 0 {
		c.add("e.type = ANY(?)", pq.Array(f.Types))
	}
	if f.CustomerID != nil {
		c.add("e.customer_id = ?", *f.CustomerID)
	}
	if f.GroupID != nil {
		c.add("e.group_id = ?", *f.GroupID)
	}
	c.timeRange("e.created_at", f.CreatedAt)
	if from.Before > 0 {
		c.add("e.seq < ?", from.Before)
	}
	order := "DESC"
	if from.After > 0 {
		c.add("e.seq > ?", from.After)
		order = "ASC"
	}
	query := `SELECT ` + eventColumns + ` FROM event e ` + c.where() + ` ORDER BY e.seq ` + order + ` LIMIT ?`
	events, err := selectRows(ctx, q, sqlx.Rebind(sqlx.DOLLAR, query), append(c.args, limit), eventTargets)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// EventsByCustomerIDs returns each customer's events, newest first, up to
// limit from the cursor, in key order.
func EventsByCustomerIDs(ctx context.Context, q sqlx.QueryerContext, customerIDs []string, from EventCursor, limit int) ([][]*Event, error) {
	before := from.Before
	if before == 0 {
		before = 1<<63 - 1
	}
	query := `SELECT k.key, ` + eventColumns + `
		FROM (SELECT DISTINCT unnest($1::text[])) AS k(key)
		CROSS JOIN LATERAL (
			SELECT ` + eventColumns + ` FROM event e
			WHERE e.customer_id = k.key AND e.seq < $2
			ORDER BY e.seq DESC LIMIT $3
		) e`
	rows, err := selectRows(ctx, q, query, []any{pq.Array(customerIDs), before, limit}, func(r *keyedEvent) []any {
		return append([]any{&r.Key}, eventTargets(&r.Event)...)
	})
	if err != nil {
		return nil, fmt.Errorf("events by customer ids: %w", err)
	}
	return byParent(customerIDs, rows, func(r *keyedEvent) (string, *Event) { return r.Key, &r.Event }), nil
}

type keyedEvent struct {
	Key string
	Event
}

// EventsBySeq returns the events with these sequence numbers, in that
// order; a number without an event (rolled back, or not yet visible) is
// left out.
func EventsBySeq(ctx context.Context, q sqlx.QueryerContext, seqs []int64) ([]*Event, error) {
	query := `SELECT ` + eventColumns + ` FROM event e WHERE e.seq = ANY($1) ORDER BY e.seq`
	events, err := selectRows(ctx, q, query, []any{pq.Array(seqs)}, eventTargets)
	if err != nil {
		return nil, fmt.Errorf("events by seq: %w", err)
	}
	return events, nil
}

// EventsAfter returns up to limit events written after the one with
// sequence number after (0 for the first), oldest first: what a listener
// that lost its connection reads to catch up.
func EventsAfter(ctx context.Context, q sqlx.QueryerContext, after int64, limit int) ([]*Event, error) {
	const query = `SELECT ` + eventColumns + ` FROM event e WHERE e.seq > $1 ORDER BY e.seq LIMIT $2`
	events, err := selectRows(ctx, q, query, []any{after, limit}, eventTargets)
	if err != nil {
		return nil, fmt.Errorf("events after: %w", err)
	}
	return events, nil
}

// LastEventSeq returns the sequence number of the newest event written, 0
// when there is none: where a listener that starts now begins.
func LastEventSeq(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	const query = `SELECT coalesce(max(seq), 0) FROM event`
	var n int64
	if err := sqlx.GetContext(ctx, q, &n, query); err != nil {
		return 0, fmt.Errorf("last event seq: %w", err)
	}
	return n, nil
}

// DisableEvents makes the transaction tx runs in write no events: for
// bulk loads, whose rows are not changes anyone made.
func DisableEvents(ctx context.Context, tx Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT set_config('app.events', 'off', true)`); err != nil {
		return fmt.Errorf("disable events: %w", err)
	}
	return nil
}

// RecordEvent writes an event no row change makes (a login throttled):
// through the same function as the triggers, with tx's actor and request.
func RecordEvent(ctx context.Context, tx Tx, typ string, data JSONObject) error {
	const query = `SELECT write_event($1, NULL, NULL, NULL, NULL, NULL, NULL, $2)`
	if _, err := tx.ExecContext(ctx, query, typ, data); err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	return nil
}

// EventActorFrom returns the actor WithEventActor put in ctx, for work that
// goes on after the request (an import run in the background).
func EventActorFrom(ctx context.Context) (EventActor, bool) {
	a, ok := ctx.Value(eventActorKey{}).(EventActor)
	return a, ok
}
