package live

import (
	"context"
	"slices"

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

// subscription is a subscriber's place in the hub.
type subscription struct {
	filter Filter
	// live is the channel the hub fills, and closes when the subscription
	// ends; only the hub sends on it, holding its lock. Events that find
	// it full wait in backlog (under the hub's lock), up to the hub's
	// SendBuffer in all; flushing is set while a timer is to move them.
	live     chan *db.Event
	backlog  []*db.Event
	flushing bool
	// pumped is set when a goroutine replays the log first, then passes
	// the live events on.
	pumped bool
	onEnd  func(error)
	// Set once, under the hub's lock.
	ended bool
	err   error
}

// Subscribe starts a subscription to the events f selects, and returns
// them: the replayed ones (after f.After), then the live ones, each once,
// in the order the hub delivers them. The channel is closed when the
// subscription ends: when ctx is done, or when the hub drops it (a slow
// subscriber, a replay too long or failed). onEnd, when not nil, is called
// with why (nil when ctx ended it) before the channel closes; it must
// return quickly.
func (h *Hub) Subscribe(ctx context.Context, f Filter, onEnd func(error)) <-chan *db.Event {
	s := &subscription{filter: f, live: make(chan *db.Event, min(liveBuffer, h.opts.SendBuffer)), pumped: f.After > 0, onEnd: onEnd}
	// Registered before the replay reads the log: an event committed
	// meanwhile is then either in the replay or among the live ones (or
	// both, and sent once).
	h.add(s)
	context.AfterFunc(ctx, func() { h.end(s, nil) })
	if !s.pumped {
		// No replay: the subscriber reads the hub's buffer itself, and
		// events take no extra hop between goroutines.
		return s.live
	}
	out := make(chan *db.Event)
	go h.pump(ctx, s, out)
	return out
}

// liveBuffer is the capacity of a subscription's channel: what a
// subscriber that keeps up needs, since a backlog beyond it costs memory
// only while it lasts.
const liveBuffer = 16

// wants reports whether the subscription selects e.
func (s *subscription) wants(e *db.Event) bool {
	if s.filter.CustomerID != "" && (e.CustomerID == nil || *e.CustomerID != s.filter.CustomerID) {
		return false
	}
	return len(s.filter.Types) == 0 || slices.Contains(s.filter.Types, e.Type)
}

// end ends s with err, once.
func (h *Hub) end(s *subscription, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endLocked(s, err)
}

func (h *Hub) endLocked(s *subscription, err error) {
	if s.ended {
		return
	}
	s.ended, s.err = true, err
	s.backlog = nil
	h.remove(s)
	if !s.pumped && s.onEnd != nil {
		s.onEnd(err)
	}
	close(s.live)
}

// pageSize is how many events a replay reads at a time.
const pageSize = 100

// pump sends the replay, then the live events, to out, and ends the
// subscription.
func (h *Hub) pump(ctx context.Context, s *subscription, out chan<- *db.Event) {
	defer close(out)
	h.end(s, h.relay(ctx, s, out))
	if s.onEnd != nil {
		h.mu.Lock()
		err := s.err
		h.mu.Unlock()
		s.onEnd(err)
	}
}

// relay sends the replay, then the live events, until the subscription or
// ctx ends.
func (h *Hub) relay(ctx context.Context, s *subscription, out chan<- *db.Event) error {
	replayed, err := h.replay(ctx, s, out)
	if err != nil || ctx.Err() != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-s.live:
			if !ok {
				return nil
			}
			if _, dup := replayed[e.Seq]; dup {
				// Read by the replay too: the seam between the two.
				delete(replayed, e.Seq)
				continue
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// replay sends the events after Filter.After that the log holds now,
// oldest first, and returns their sequence numbers. It fails when there
// are more than the hub's MaxReplay, or the log cannot be read.
func (h *Hub) replay(ctx context.Context, s *subscription, out chan<- *db.Event) (map[int64]struct{}, error) {
	f := db.EventFilter{Types: s.filter.Types}
	if s.filter.CustomerID != "" {
		f.CustomerID = &s.filter.CustomerID
	}
	replayed := map[int64]struct{}{}
	after := s.filter.After
	for {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		events, err := db.ListEvents(rctx, h.opts.DB, f, db.EventCursor{After: after}, pageSize)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, err
		}
		if len(replayed)+len(events) > h.opts.MaxReplay {
			return nil, errcode.Invalid("after", "More than %d events came after this one: page through them with the "+
				"customer_events query, then subscribe after the newest", h.opts.MaxReplay)
		}
		for _, e := range events {
			replayed[e.Seq] = struct{}{}
			select {
			case out <- e:
			case <-ctx.Done():
				return nil, nil
			}
			after = e.Seq
		}
		if len(events) < pageSize {
			return replayed, nil
		}
	}
}
