package live

import (
	"context"
	"slices"
	"sync"

	"customerservice/db"
	"customerservice/errcode"
)

// Filter selects the events of a subscription.
type Filter struct {
	// CustomerID, when not empty, selects one customer's events.
	CustomerID string
	// Types, when not empty, selects events of these types.
	Types []string
	// After, when not 0, is the sequence number of the last event the
	// subscriber has: the events after it are replayed from the log before
	// the live ones.
	After int64
}

// Subscription is a subscriber's stream of events: the replayed ones, then
// the live ones, each once, in the order the hub delivers them.
type Subscription struct {
	hub    *Hub
	filter Filter
	// live is the bounded buffer the hub fills; out is what the
	// subscriber reads.
	live chan *db.Event
	out  chan *db.Event

	dropOnce sync.Once
	dropped  chan struct{}
	err      error
	cancel   context.CancelFunc
}

// Subscribe starts a subscription, which lasts until ctx is done, Close is
// called, or the hub drops it (Err then says why). Its events are read from
// Events, which is closed when it ends.
func (h *Hub) Subscribe(ctx context.Context, f Filter) *Subscription {
	ctx, cancel := context.WithCancel(ctx)
	s := &Subscription{
		hub:     h,
		filter:  f,
		live:    make(chan *db.Event, h.opts.SendBuffer),
		out:     make(chan *db.Event),
		dropped: make(chan struct{}),
		cancel:  cancel,
	}
	// Registered before the replay reads the log: an event committed
	// meanwhile is then either in the replay or among the live ones (or
	// both, and sent once).
	h.add(s)
	go s.pump(ctx)
	return s
}

// Events returns the subscription's events; it is closed when the
// subscription ends.
func (s *Subscription) Events() <-chan *db.Event { return s.out }

// Err returns why the hub ended the subscription, nil when the subscriber
// did.
func (s *Subscription) Err() error {
	select {
	case <-s.dropped:
		return s.err
	default:
		return nil
	}
}

// Close ends the subscription.
func (s *Subscription) Close() { s.cancel() }

// drop ends the subscription with err, once.
func (s *Subscription) drop(err error) {
	s.dropOnce.Do(func() {
		s.err = err
		close(s.dropped)
		s.hub.remove(s)
		s.cancel()
	})
}

// wants reports whether the subscription selects e.
func (s *Subscription) wants(e *db.Event) bool {
	if s.filter.CustomerID != "" && (e.CustomerID == nil || *e.CustomerID != s.filter.CustomerID) {
		return false
	}
	return len(s.filter.Types) == 0 || slices.Contains(s.filter.Types, e.Type)
}

// pageSize is how many events a replay reads at a time.
const pageSize = 100

// pump sends the replay, then the live events, to out.
func (s *Subscription) pump(ctx context.Context) {
	defer close(s.out)
	defer s.hub.remove(s)
	replayed, ok := s.replay(ctx)
	if !ok {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-s.live:
			if _, dup := replayed[e.Seq]; dup {
				// Read by the replay too: the seam between the two.
				delete(replayed, e.Seq)
				continue
			}
			select {
			case s.out <- e:
			case <-ctx.Done():
				return
			}
		}
	}
}

// replay sends the events after Filter.After that the log holds now,
// oldest first, and returns their sequence numbers. It ends the
// subscription, returning false, when there are more than the hub's
// MaxReplay or the log cannot be read.
func (s *Subscription) replay(ctx context.Context) (map[int64]struct{}, bool) {
	if s.filter.After == 0 {
		return nil, true
	}
	f := db.EventFilter{Types: s.filter.Types}
	if s.filter.CustomerID != "" {
		f.CustomerID = &s.filter.CustomerID
	}
	replayed := map[int64]struct{}{}
	after := s.filter.After
	for {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		events, err := db.ListEvents(rctx, s.hub.opts.DB, f, db.EventCursor{After: after}, pageSize)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.drop(err)
			}
			return nil, false
		}
		if len(replayed)+len(events) > s.hub.opts.MaxReplay {
			s.drop(errcode.Invalid("after", "More than %d events came after this one: page through them with the "+
				"customer_events query, then subscribe after the newest", s.hub.opts.MaxReplay))
			return nil, false
		}
		for _, e := range events {
			replayed[e.Seq] = struct{}{}
			select {
			case s.out <- e:
			case <-ctx.Done():
				return nil, false
			}
			after = e.Seq
		}
		if len(events) < pageSize {
			return replayed, true
		}
	}
}
