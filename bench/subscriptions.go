package bench

// The subscriptions scenario: many WebSocket subscribers, and changes made
// one at a time; each event's delivery is timed at every subscriber.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"customerservice/gqlws"
)

// SubscriptionConfig is a run of the subscriptions scenario.
type SubscriptionConfig struct {
	// URL is the server's base URL; AdminToken subscribes and changes.
	URL        string
	AdminToken string
	// Subscribers is how many WebSocket connections subscribe, one
	// subscription each. The server's WEBSOCKETS_PER_ACCOUNT must allow
	// them: they are one admin's.
	Subscribers int
	// Changes is how many changes are made, Interval apart.
	Changes  int
	Interval time.Duration
}

// SubscriptionResult is what a run measured. Latency is from the moment the
// change's request was sent to the moment a subscriber read its event: an
// upper bound on the time from the commit, which comes later. The time
// from the change's answer, which comes after the commit, is a lower bound
// (negative when the event came first).
type SubscriptionResult struct {
	Subscribers int     `json:"subscribers"`
	Changes     int     `json:"changes"`
	Deliveries  int     `json:"deliveries"`
	Expected    int     `json:"expected"`
	Duplicates  int     `json:"duplicates"`
	P50Ms       float64 `json:"p50_ms"`
	P90Ms       float64 `json:"p90_ms"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	// AnswerP50Ms and AnswerP99Ms are from the change's answer.
	AnswerP50Ms float64 `json:"from_answer_p50_ms"`
	AnswerP99Ms float64 `json:"from_answer_p99_ms"`
	// ChangeP50Ms is the median time to answer the change itself.
	ChangeP50Ms float64 `json:"change_p50_ms"`
	// ServerRSSMB is the server's resident memory with every subscriber
	// connected, before the changes and after them (the larger).
	ServerRSSMB float64 `json:"server_rss_mb"`
	ConnectSecs float64 `json:"connect_seconds"`
}

const subscribeQuery = `subscription ($id: ID) { customer_events(customer_id: $id, types: ["customer.updated"]) { id changes } }`

// RunSubscriptions connects the subscribers, waits until each has a first
// event, then makes the changes and times their deliveries.
func RunSubscriptions(ctx context.Context, cfg SubscriptionConfig) (SubscriptionResult, error) {
	d := &driver{cfg: Config{URL: cfg.URL, AdminToken: cfg.AdminToken}, client: &http.Client{Timeout: 30 * time.Second}}
	ids, err := d.ids(ctx, `{ customers(limit: 1) { items { id } } }`, "customers")
	if err != nil {
		return SubscriptionResult{}, err
	}
	customer := ids[0]

	// sent[n] is when change n's request left, answered[n] when its
	// answer came.
	sent := make([]time.Time, cfg.Changes+1)
	answered := make([]time.Time, cfg.Changes+1)
	// Each run's names are its own: a change to the name a customer has
	// already would write no event.
	tag := fmt.Sprintf("b%d-", time.Now().UnixNano()%1_000_000)
	type subscriber struct {
		conn *gqlws.Conn
		// arrived[n] is when change n's event was read; seen counts
		// each change's events, to find duplicates.
		arrived map[int]time.Time
		seen    map[int]int
		// count is len(arrived), for the goroutine that waits for the
		// last.
		count atomic.Int64
	}
	subs := make([]*subscriber, cfg.Subscribers)
	began := time.Now()
	var connectErr atomic.Value
	var wg sync.WaitGroup
	slots := make(chan struct{}, 50) // dials at once
	for i := range subs {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			c, err := gqlws.Dial(ctx, cfg.URL+"/graphql", "Bearer "+cfg.AdminToken, nil)
			if err == nil {
				err = c.Subscribe(ctx, "1", subscribeQuery, map[string]any{"id": customer})
			}
			if err != nil {
				connectErr.CompareAndSwap(nil, fmt.Errorf("subscriber %d: %w", i, err))
				return
			}
			subs[i] = &subscriber{conn: c, arrived: map[int]time.Time{}, seen: map[int]int{}}
		})
	}
	wg.Wait()
	defer func() {
		for _, s := range subs {
			if s != nil {
				s.conn.CloseNow()
			}
		}
	}()
	if err, _ := connectErr.Load().(error); err != nil {
		return SubscriptionResult{}, err
	}
	connected := time.Since(began)

	// Readers: each subscriber records when each change's event came.
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var warm sync.WaitGroup
	warm.Add(len(subs))
	var readers sync.WaitGroup
	for _, s := range subs {
		readers.Go(func() {
			warmed := false
			for {
				m, err := s.conn.Read(readCtx)
				if err != nil {
					if !warmed {
						warm.Done()
					}
					return
				}
				at := time.Now()
				n, ok := changeNumber(m, tag)
				if !ok {
					continue
				}
				s.seen[n]++
				if n == 0 {
					if !warmed {
						warmed = true
						warm.Done()
					}
					continue
				}
				if s.seen[n] == 1 && n <= cfg.Changes {
					s.arrived[n] = at
					s.count.Add(1)
				}
			}
		})
	}
	// Warm-up: a change every half second until every subscriber has had
	// one, so each subscription is known to run.
	warmed := make(chan struct{})
	go func() { warm.Wait(); close(warmed) }()
	for i := 0; ; i++ {
		if err := d.do(ctx, request{updateQuery, map[string]any{"id": customer, "name": tag + "w" + strconv.Itoa(i)}, cfg.AdminToken}); err != nil {
			return SubscriptionResult{}, fmt.Errorf("warm-up change: %w", err)
		}
		select {
		case <-warmed:
		case <-time.After(500 * time.Millisecond):
			if i < 60 {
				continue
			}
			return SubscriptionResult{}, fmt.Errorf("not every subscriber had an event after %d warm-up changes", i+1)
		case <-ctx.Done():
			return SubscriptionResult{}, ctx.Err()
		}
		break
	}
	_, _, rssConnected, _ := d.metrics(ctx)

	var changeLat []time.Duration
	for n := 1; n <= cfg.Changes; n++ {
		sent[n] = time.Now()
		if err := d.do(ctx, request{updateQuery, map[string]any{"id": customer, "name": tag + strconv.Itoa(n)}, cfg.AdminToken}); err != nil {
			return SubscriptionResult{}, fmt.Errorf("change %d: %w", n, err)
		}
		answered[n] = time.Now()
		changeLat = append(changeLat, answered[n].Sub(sent[n]))
		time.Sleep(cfg.Interval)
	}
	// The last events' deliveries.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for _, s := range subs {
			if s.count.Load() < int64(cfg.Changes) {
				done = false
			}
		}
		if done {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopReading()
	for _, s := range subs {
		s.conn.CloseNow()
	}
	readers.Wait()
	_, _, rssAfter, _ := d.metrics(ctx)

	r := SubscriptionResult{Subscribers: cfg.Subscribers, Changes: cfg.Changes, Expected: cfg.Subscribers * cfg.Changes,
		ServerRSSMB: max(rssConnected, rssAfter) / (1 << 20), ConnectSecs: connected.Seconds()}
	var lat, fromAnswer []time.Duration
	for _, s := range subs {
		for n, at := range s.arrived {
			lat = append(lat, at.Sub(sent[n]))
			fromAnswer = append(fromAnswer, at.Sub(answered[n]))
		}
		for n, times := range s.seen {
			if n > 0 && times > 1 {
				r.Duplicates += times - 1
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(fromAnswer)
	slices.Sort(changeLat)
	r.AnswerP50Ms, r.AnswerP99Ms = percentile(fromAnswer, 0.50), percentile(fromAnswer, 0.99)
	r.Deliveries = len(lat)
	r.P50Ms, r.P90Ms, r.P99Ms = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99)
	if len(lat) > 0 {
		r.MaxMs = float64(lat[len(lat)-1].Microseconds()) / 1000
	}
	r.ChangeP50Ms = percentile(changeLat, 0.50)
	return r, nil
}

// changeNumber reads which change of the run tagged tag an event is: the
// number in the first name it set (tag+"12" is 12; a warm-up's, tag+"w1",
// is 0). It looks for the name in the payload rather than decode it: the
// driver shares the machine with the server, and its decoding of a
// thousand copies of each event would weigh on what it measures.
func changeNumber(m gqlws.Message, tag string) (int, bool) {
	if m.Type != "next" {
		return 0, false
	}
	_, rest, ok := bytes.Cut(m.Payload, []byte(`"to":"`+tag))
	if !ok {
		return 0, false
	}
	if len(rest) > 0 && rest[0] == 'w' {
		return 0, true
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(rest[:end]))
	return n, err == nil && n > 0
}

// PrintSubscriptions writes a result as a line of text.
func PrintSubscriptions(r SubscriptionResult) string {
	return fmt.Sprintf("subscriptions: %d subscribers, %d changes: %d of %d deliveries, %d duplicates; "+
		"from the change's request: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; from its answer: p50 %.1f ms, p99 %.1f ms "+
		"(the change answered in p50 %.1f ms); server RSS %.1f MB; connected in %.1f s",
		r.Subscribers, r.Changes, r.Deliveries, r.Expected, r.Duplicates, r.P50Ms, r.P90Ms, r.P99Ms, r.MaxMs,
		r.AnswerP50Ms, r.AnswerP99Ms, r.ChangeP50Ms, r.ServerRSSMB, r.ConnectSecs)
}
