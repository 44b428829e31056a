package db

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// EventsChannel is the channel the event log notifies, with the new
// events' sequence numbers as the payload: one number (write_event,
// migration 0013), or a statement's numbers as a list of numbers and
// ranges, "12,15-1014" (write_events, migration 0019).
const EventsChannel = "customer_events"

// listenerAppName names the listener's connection in pg_stat_activity, so
// an operator (or a test) can tell it from the pool's.
const listenerAppName = "customerservice-events"

// EventListener is a connection of its own that LISTENs on EventsChannel:
// PostgreSQL delivers each committed event's number to it, in commit
// order. It reconnects by itself when the connection drops.
type EventListener struct {
	l *pq.Listener
	// notes carries what the connection hears: a sequence number, or 0
	// after a reconnect, when notifications may have been missed.
	notes chan int64
	done  chan struct{}
}

// ListenEvents connects to the database at dsn and listens on
// EventsChannel. onState, when not nil, is told of connection changes
// ("connected", "disconnected", "reconnected", "connectionAttemptFailed")
// and their errors.
func ListenEvents(dsn string, onState func(state string, err error)) (*EventListener, error) {
	dsn, err := withAppName(withConnectTimeout(dsn), listenerAppName)
	if err != nil {
		return nil, err
	}
	l := pq.NewListener(dsn, 100*time.Millisecond, 5*time.Second, func(ev pq.ListenerEventType, err error) {
		if onState != nil {
			onState(ev.String(), err)
		}
	})
	if err := l.Listen(EventsChannel); err != nil {
		l.Close()
		return nil, fmt.Errorf("listen %s: %w", EventsChannel, err)
	}
	el := &EventListener{l: l, notes: make(chan int64, 256), done: make(chan struct{})}
	go el.relay()
	return el, nil
}

// relay turns the driver's notifications into sequence numbers. A payload
// that is not a list of them (nobody else should notify this channel) is
// dropped.
func (el *EventListener) relay() {
	defer close(el.notes)
	for {
		select {
		case <-el.done:
			return
		case n, ok := <-el.l.Notify:
			if !ok {
				return
			}
			// A nil notification means the driver connected again.
			ranges := []seqRange{{0, 0}}
			if n != nil {
				var err error
				if ranges, err = parseSeqs(n.Extra); err != nil {
					continue
				}
			}
			for _, r := range ranges {
				for seq := r.from; seq <= r.to; seq++ {
					select {
					case el.notes <- seq:
					case <-el.done:
						return
					}
				}
			}
		}
	}
}

// Notes returns what the listener hears, in commit order: the sequence
// number of each event committed, or 0 after the connection was lost and
// made again, when events may have been committed unheard. It is closed
// when the listener is.
func (el *EventListener) Notes() <-chan int64 { return el.notes }

// Ping checks the connection: a connection that a network failure left
// open without an answer would otherwise wait for notifications forever.
// A failed ping makes the listener reconnect.
func (el *EventListener) Ping() error { return el.l.Ping() }

// Close closes the connection.
func (el *EventListener) Close() error {
	close(el.done)
	// The driver's goroutine may be blocked handing over a notification,
	// holding the lock its Close takes, once relay stops reading: after a
	// flood of them (a bulk import's two million) the hub's ping gave up
	// and its Close waited forever, the hub and the server's shutdown
	// with it. Notifications are taken and dropped until it is closed.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case _, ok := <-el.l.Notify:
				if !ok {
					return
				}
			case <-stop:
				return
			}
		}
	}()
	err := el.l.Close()
	close(stop)
	return err
}

// withAppName sets application_name in a connection string, URL or
// key=value.
func withAppName(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse database url: %w", err)
		}
		q := u.Query()
		q.Set("application_name", name)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " application_name=" + name, nil
}

// seqRange is the sequence numbers from through to.
type seqRange struct{ from, to int64 }

// parseSeqs reads a notification's payload: sequence numbers and ranges
// of them, separated by commas, each at least 1, ranges low to high.
func parseSeqs(payload string) ([]seqRange, error) {
	var out []seqRange
	for _, item := range strings.Split(payload, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		from, err := strconv.ParseInt(lo, 10, 64)
		if err != nil || from < 1 {
			return nil, fmt.Errorf("event notification %q: not a sequence number", item)
		}
		to := from
		if isRange {
			if to, err = strconv.ParseInt(hi, 10, 64); err != nil || to < from {
				return nil, fmt.Errorf("event notification %q: not a range", item)
			}
		}
		out = append(out, seqRange{from, to})
	}
	return out, nil
}
