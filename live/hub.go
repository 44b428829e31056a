// Package live delivers the event log to subscribers as it is written.
//
// Each server has one Hub. It LISTENs on the channel the event log's
// triggers notify (db.EventsChannel) on a connection of its own, reads the
// events it hears of from the log in batches, and hands each to the
// subscriptions it matches, in the order PostgreSQL delivered the
// notifications: commit order, which for one customer is the order of its
// changes. Every server hears every commit, so a subscriber gets its events
// whichever server it is connected to.
//
// A subscription waits in a bounded buffer: one that falls further behind
// is dropped with an error (ErrSlowConsumer), never queued without bound.
// When the connection to PostgreSQL drops, the hub connects again and
// reads from the log what was committed in between, so nothing is lost.
package live

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"customerservice/db"
	"customerservice/errcode"
)

// Defaults of Options.
const (
	// DefaultSendBuffer holds a bulk change's events (a group's 1,000
	// members added at once) for a subscriber to every event.
	DefaultSendBuffer = 1024
	DefaultMaxReplay  = 1000
)

const (
	// maxBatch is how many notified events one statement reads.
	maxBatch = 500
	// catchUpWindow is how far below the newest event delivered a catch-up
	// looks for events committed while the hub was not listening: sequence
	// numbers are taken when a row is written and commits come later, so a
	// transaction that was open when the connection dropped commits an
	// older number than the newest one delivered.
	catchUpWindow = 10_000
	// pingEvery is how often the listening connection is checked: one that
	// a network failure left open would otherwise wait in silence.
	pingEvery   = 15 * time.Second
	pingTimeout = 5 * time.Second
	// readTimeout bounds the statements that read events.
	readTimeout = 10 * time.Second
)

// Options configure a Hub.
type Options struct {
	// DB is where events are read; DSN opens the listening connection
	// (the same database).
	DB  *sqlx.DB
	DSN string
	// Logger gets the connection's changes and failures.
	Logger *slog.Logger
	// Registry receives the hub's metrics; none are kept when nil.
	Registry prometheus.Registerer
	// SendBuffer is how many events a subscription may have waiting before
	// it is dropped (DefaultSendBuffer when 0). Only a backlog takes memory
	// beyond a few events.
	SendBuffer int
	// MaxReplay is how many events a subscription resuming after an event
	// may replay (DefaultMaxReplay when 0).
	MaxReplay int
}

// Hub fans the event log out to this server's subscriptions.
type Hub struct {
	opts    Options
	metrics *Metrics

	mu sync.Mutex
	// byCustomer holds the subscriptions to one customer's events; all,
	// those to every customer's.
	byCustomer map[string]map[*subscription]struct{}
	all        map[*subscription]struct{}
	watchers   []func(*db.Event)
	stoppers   []func()

	// What the delivering goroutine alone touches: the newest sequence
	// number delivered, and the numbers delivered within catchUpWindow of
	// it, so a catch-up sends none twice.
	newest    int64
	delivered map[int64]struct{}
	// newestSeen is newest, for other goroutines.
	newestSeen atomic.Int64
	// started is set once the hub knows where the log stood when it
	// first listened: events before that are not news.
	started bool

	listening chan struct{}
	listenOne sync.Once
}

// NewHub returns a hub; Run makes it listen.
func NewHub(opts Options) *Hub {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SendBuffer <= 0 {
		opts.SendBuffer = DefaultSendBuffer
	}
	if opts.MaxReplay <= 0 {
		opts.MaxReplay = DefaultMaxReplay
	}
	return &Hub{
		opts:       opts,
		metrics:    newMetrics(opts.Registry),
		byCustomer: map[string]map[*subscription]struct{}{},
		all:        map[*subscription]struct{}{},
		delivered:  map[int64]struct{}{},
		listening:  make(chan struct{}),
	}
}

// Metrics returns the hub's collectors, which the WebSocket transport also
// updates.
func (h *Hub) Metrics() *Metrics { return h.metrics }

// Listening is closed once the hub first listens: from then on, every
// event committed reaches the subscriptions.
func (h *Hub) Listening() <-chan struct{} { return h.listening }

// Newest returns the sequence number of the newest event the hub has
// delivered (or, before any, of the newest in the log when it started).
func (h *Hub) Newest() int64 { return h.newestSeen.Load() }

// Watch calls fn with every event the hub delivers, on the hub's goroutine:
// fn must return quickly. The WebSocket transport watches for the events
// that revoke tokens.
func (h *Hub) Watch(fn func(*db.Event)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.watchers = append(h.watchers, fn)
}

// OnStop calls fn when Run returns: the WebSocket transport then closes
// its connections, which an HTTP server's shutdown leaves open.
func (h *Hub) OnStop(fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stoppers = append(h.stoppers, fn)
}

// Run listens and delivers until ctx is done, connecting again whenever
// the connection fails.
func (h *Hub) Run(ctx context.Context) {
	defer func() {
		h.mu.Lock()
		stoppers := h.stoppers
		h.mu.Unlock()
		for _, fn := range stoppers {
			fn()
		}
	}()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := h.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		h.opts.Logger.Warn("event listener stopped; connecting again", "error", err, "in", backoff)
		if time.Since(start) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// listen runs one listening connection until it fails or ctx is done.
func (h *Hub) listen(ctx context.Context) error {
	l, err := db.ListenEvents(h.opts.DSN, func(state string, err error) {
		if err != nil {
			h.opts.Logger.Warn("event listener", "state", state, "error", err)
		}
	})
	if err != nil {
		return err
	}
	defer l.Close()
	// Listening first, then reading where to start, so that no commit
	// falls between the two.
	if !h.started {
		if h.newest, err = h.lastSeq(ctx); err != nil {
			return err
		}
		h.newestSeen.Store(h.newest)
		h.started = true
	} else if err := h.catchUp(ctx); err != nil {
		return err
	}
	h.listenOne.Do(func() { close(h.listening) })

	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ping.C:
			if err := pingWithin(l, pingTimeout); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		case seq, ok := <-l.Notes():
			if !ok {
				return errors.New("the listener closed")
			}
			if seq == 0 {
				// The driver connected again by itself; what was committed
				// meanwhile was not heard.
				if err := h.catchUp(ctx); err != nil {
					return err
				}
				continue
			}
			batch := []int64{seq}
		more:
			for len(batch) < maxBatch {
				select {
				case seq, ok := <-l.Notes():
					if !ok || seq == 0 {
						// Handled on the next turn of the loop, once this
						// batch is out.
						if err := h.deliverSeqs(ctx, batch); err != nil {
							return err
						}
						if !ok {
							return errors.New("the listener closed")
						}
						if err := h.catchUp(ctx); err != nil {
							return err
						}
						batch = nil
						break more
					}
					batch = append(batch, seq)
				default:
					break more
				}
			}
			if err := h.deliverSeqs(ctx, batch); err != nil {
				return err
			}
		}
	}
}

// pingWithin pings the listener's connection, giving up after d: a ping
// to a frozen server does not return by itself.
func pingWithin(l *db.EventListener, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- l.Ping() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return errors.New("no answer")
	}
}

func (h *Hub) lastSeq(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	return db.LastEventSeq(ctx, h.opts.DB)
}

// catchUp delivers the events committed while the hub was not listening:
// those within catchUpWindow below the newest delivered, and all above it,
// that it has not delivered, oldest first.
func (h *Hub) catchUp(ctx context.Context) error {
	from := max(0, h.newest-catchUpWindow)
	for {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		events, err := db.EventsAfter(rctx, h.opts.DB, from, maxBatch)
		cancel()
		if err != nil {
			return fmt.Errorf("catch up: %w", err)
		}
		for _, e := range events {
			if _, done := h.delivered[e.Seq]; !done {
				h.deliver(e)
			}
			from = e.Seq
		}
		if len(events) < maxBatch {
			return nil
		}
	}
}

// deliverSeqs reads the events of a batch of notifications and delivers
// them in the order they were notified. An event is visible once its
// notification arrives (PostgreSQL notifies after the commit), so one
// missing from the log was rolled back by hand: it is skipped.
func (h *Hub) deliverSeqs(ctx context.Context, seqs []int64) error {
	seqs = slices.DeleteFunc(seqs, func(s int64) bool { _, done := h.delivered[s]; return done })
	if len(seqs) == 0 {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	events, err := db.EventsBySeq(rctx, h.opts.DB, seqs)
	if err != nil {
		return err
	}
	bySeq := make(map[int64]*db.Event, len(events))
	for _, e := range events {
		bySeq[e.Seq] = e
	}
	for _, s := range seqs {
		if e, ok := bySeq[s]; ok {
			h.deliver(e)
		} else {
			h.opts.Logger.Warn("notified event not in the log", "seq", s)
		}
	}
	return nil
}

// deliver hands e to the subscriptions it matches and to the watchers,
// and remembers it was delivered.
func (h *Hub) deliver(e *db.Event) {
	h.delivered[e.Seq] = struct{}{}
	if e.Seq > h.newest {
		h.newest = e.Seq
		h.newestSeen.Store(e.Seq)
	}
	if len(h.delivered) > 2*catchUpWindow {
		for s := range h.delivered {
			if s < h.newest-catchUpWindow {
				delete(h.delivered, s)
			}
		}
	}

	h.mu.Lock()
	offer := func(subs map[*subscription]struct{}) {
		for s := range subs {
			if !s.wants(e) {
				continue
			}
			if h.offerLocked(s, e) {
				h.metrics.Delivered.Inc()
			} else {
				// Ending it removes it from subs, which a range allows.
				h.endLocked(s, ErrSlowConsumer(h.opts.SendBuffer))
			}
		}
	}
	offer(h.all)
	if e.CustomerID != nil {
		offer(h.byCustomer[*e.CustomerID])
	}
	watchers := h.watchers
	h.mu.Unlock()
	for _, w := range watchers {
		w(e)
	}
}

// offerLocked queues e for s: in its channel when there is room and no
// backlog, else at the end of its backlog, which a timer moves into the
// channel as the subscriber reads. It returns false when the backlog is
// full. The caller holds h.mu.
func (h *Hub) offerLocked(s *subscription, e *db.Event) bool {
	if len(s.backlog) == 0 {
		select {
		case s.live <- e:
			return true
		default:
		}
	}
	if cap(s.live)+len(s.backlog) >= h.opts.SendBuffer {
		return false
	}
	s.backlog = append(s.backlog, e)
	if !s.flushing {
		s.flushing = true
		time.AfterFunc(flushEvery, func() { h.flush(s) })
	}
	return true
}

// flushEvery is how often a backlog is moved into its channel.
const flushEvery = time.Millisecond

// flush moves what fits of s's backlog into its channel, and comes back
// while some is left.
func (h *Hub) flush(s *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.ended {
		s.backlog = nil
		return
	}
	n := 0
	for _, e := range s.backlog {
		select {
		case s.live <- e:
			n++
			continue
		default:
		}
		break
	}
	if n == len(s.backlog) {
		// Drained: the backlog's memory goes back.
		s.backlog, s.flushing = nil, false
		return
	}
	rest := copy(s.backlog, s.backlog[n:])
	clear(s.backlog[rest:])
	s.backlog = s.backlog[:rest]
	time.AfterFunc(flushEvery, func() { h.flush(s) })
}

// ErrSlowConsumer ends a subscription that fell more than buffer events
// behind.
func ErrSlowConsumer(buffer int) error {
	return errcode.Limited(time.Second, "This subscription fell more than %d events behind and was dropped; "+
		"subscribe again with after set to the id of the last event received", buffer)
}

func (h *Hub) add(s *subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.filter.CustomerID == "" {
		h.all[s] = struct{}{}
	} else {
		set := h.byCustomer[s.filter.CustomerID]
		if set == nil {
			set = map[*subscription]struct{}{}
			h.byCustomer[s.filter.CustomerID] = set
		}
		set[s] = struct{}{}
	}
	h.metrics.Subscriptions.Inc()
}

// remove forgets s; the caller holds h.mu.
func (h *Hub) remove(s *subscription) {
	if s.filter.CustomerID == "" {
		delete(h.all, s)
	} else {
		set := h.byCustomer[s.filter.CustomerID]
		delete(set, s)
		if len(set) == 0 {
			delete(h.byCustomer, s.filter.CustomerID)
		}
	}
	h.metrics.Subscriptions.Dec()
}
