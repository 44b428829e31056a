package graph

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/jmoiron/sqlx"

	"customerservice/db"
	"customerservice/errcode"
	"customerservice/observe"
)

// Loaders hold the relations of one request: every customer's groups,
// addresses or orders are fetched by one statement, whatever the number of
// customers, when prefetching (prefetch.go) runs their batches ahead of the
// fields. A key it did not fill is fetched alone when its field asks (see
// load). They are made anew for every operation and never shared, since a
// batch runs with the context of its first caller.
type Loaders struct {
	CustomerByID         loader[string, *db.Customer]
	GroupsByCustomer     loader[string, []*db.CustomerGroup]
	AddressesByCustomer  loader[string, []*db.Address]
	OrdersByCustomer     loader[pageKey, db.Slice[db.Order]]
	OrderCountByCustomer loader[string, int]
	ItemsByOrder         loader[string, []*db.LineItem]
	MembersByGroup       loader[pageKey, db.Slice[db.Customer]]
	MemberCountByGroup   loader[string, int]
	TimelineByCustomer   loader[timelineKey, []*db.Event]
	DeliveriesByWebhook  loader[deliveriesKey, []*db.WebhookDelivery]
	// EmailVerifiedByCustomer is when each customer's login email was
	// verified (nil: not, or no login).
	EmailVerifiedByCustomer loader[string, *time.Time]
	StatsByCustomer         loader[string, *db.CustomerStats]

	// cols are the columns the operation's rows need, for the loaders and
	// for the lists that prime them.
	cols columns
}

// loader is a dataloader that can also be filled ahead of time (see
// prefetch.go): its batch function and cache are at hand.
type loader[K comparable, V any] struct {
	*dataloader.Loader[K, V]
	batch dataloader.BatchFunc[K, V]
	cache *dataloader.InMemoryCache[K, V]
	// name is the relation, for the misses' log line and metric.
	name   string
	logger *slog.Logger
	// running are the keys a prefetch is fetching now, so that another
	// prefetch of them (a nested level of the query, run at the same
	// time as the level that fetches them: a customer's stats, and its
	// orders' customer's) waits for that batch instead of sending its
	// own.
	running *running[K]
}

// running tracks the keys of prefetches under way.
type running[K comparable] struct {
	mu   sync.Mutex
	keys map[K]chan struct{}
}

func newLoader[K comparable, V any](name string, logger *slog.Logger, wait time.Duration, batch dataloader.BatchFunc[K, V]) loader[K, V] {
	cache := dataloader.NewCache[K, V]()
	return loader[K, V]{
		Loader:  dataloader.NewBatchedLoader(batch, dataloader.WithWait[K, V](wait), dataloader.WithCache[K, V](cache)),
		batch:   batch,
		cache:   cache,
		name:    name,
		logger:  logger,
		running: &running[K]{keys: make(map[K]chan struct{})},
	}
}

// prefetch runs one batch, now, for the keys not cached yet, and caches
// what it finds. A key that fails is left out, for its resolver's Load to
// report.
func (l loader[K, V]) prefetch(ctx context.Context, keys []K) {
	seen := make(map[K]bool, len(keys))
	var missing []K
	var waits []chan struct{}
	done := make(chan struct{})
	l.running.mu.Lock()
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if _, cached := l.cache.Get(ctx, k); cached {
			continue
		}
		if w, ok := l.running.keys[k]; ok {
			waits = append(waits, w)
			continue
		}
		l.running.keys[k] = done
		missing = append(missing, k)
	}
	l.running.mu.Unlock()
	if len(missing) > 0 {
		l.fetch(ctx, missing, done)
	}
	// Only once this batch is done: two prefetches may each wait for the
	// other's keys.
	for _, w := range waits {
		<-w
	}
}

// fetch runs the batch for keys, which prefetch marked as running under
// done, caches what it finds, and ends their running mark, panic or not.
func (l loader[K, V]) fetch(ctx context.Context, keys []K, done chan struct{}) {
	defer func() {
		l.running.mu.Lock()
		for _, k := range keys {
			delete(l.running.keys, k)
		}
		l.running.mu.Unlock()
		close(done)
	}()
	for i, r := range l.batch(ctx, keys) {
		if r.Error == nil {
			l.Prime(ctx, keys[i], r.Data)
		}
	}
}

// cached returns the values of keys that prefetch cached; keys that failed
// are left out.
func (l loader[K, V]) cached(ctx context.Context, keys []K) []V {
	var out []V
	for _, k := range keys {
		if thunk, ok := l.cache.Get(ctx, k); ok {
			if v, err := thunk(); err == nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// pageKey is the key of a paginated relation: the parent and the page
// (limit, offset, order, cursor), since field arguments differ between
// places in one query.
type pageKey struct {
	ID   string
	Page db.Page
}

// DefaultLoaderWait is how long a loader collects keys before it runs a
// batch for a key that prefetching did not fill. Fields are resolved one
// after the other (graph/generate.go), so such a batch holds that one key:
// the wait is what a miss costs on top of its statement, and is kept short.
const DefaultLoaderWait = 2 * time.Millisecond

// NewLoaders returns the loaders of one operation, which read the columns
// cols of their rows; a miss is logged to logger at DEBUG.
func NewLoaders(q sqlx.QueryerContext, wait time.Duration, cols columns, logger *slog.Logger) *Loaders {
	return &Loaders{
		CustomerByID: newLoader("customer_by_id", logger, wait, customersByID(q, cols.customer)),
		GroupsByCustomer: newLoader("groups_by_customer", logger, wait, bind(q, func(ctx context.Context, q sqlx.QueryerContext, ids []string) ([][]*db.CustomerGroup, error) {
			return db.GroupsByCustomerIDs(ctx, q, ids, cols.group)
		})),
		AddressesByCustomer: newLoader("addresses_by_customer", logger, wait, bind(q, func(ctx context.Context, q sqlx.QueryerContext, ids []string) ([][]*db.Address, error) {
			return db.AddressesByCustomerIDs(ctx, q, ids, cols.address)
		})),
		OrdersByCustomer: newLoader("orders_by_customer", logger, wait, paged(q, func(ctx context.Context, q sqlx.QueryerContext, ids []string, p db.Page) ([]db.Slice[db.Order], error) {
			return db.OrdersByCustomerIDs(ctx, q, ids, p, cols.order)
		})),
		OrderCountByCustomer: newLoader("order_count_by_customer", logger, wait, bind(q, db.CountOrdersByCustomerIDs)),
		ItemsByOrder:         newLoader("items_by_order", logger, wait, bind(q, db.LineItemsByOrderIDs)),
		MembersByGroup: newLoader("members_by_group", logger, wait, paged(q, func(ctx context.Context, q sqlx.QueryerContext, ids []string, p db.Page) ([]db.Slice[db.Customer], error) {
			return db.CustomersByGroupIDs(ctx, q, ids, p, cols.customer)
		})),
		MemberCountByGroup:      newLoader("member_count_by_group", logger, wait, bind(q, db.CountCustomersByGroupIDs)),
		TimelineByCustomer:      newLoader("timeline_by_customer", logger, wait, batch(timelines(q))),
		DeliveriesByWebhook:     newLoader("deliveries_by_webhook", logger, wait, batch(deliveriesByWebhook(q))),
		EmailVerifiedByCustomer: newLoader("email_verified_by_customer", logger, wait, bind(q, db.EmailVerifiedAtOfCustomers)),
		StatsByCustomer:         newLoader("stats_by_customer", logger, wait, bind(q, db.StatsByCustomerIDs)),
		cols:                    cols,
	}
}

type loadersKey struct{}

// WithLoaders returns a context carrying l.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// loadersFrom returns the loaders of the request ctx belongs to.
func loadersFrom(ctx context.Context) *Loaders {
	return ctx.Value(loadersKey{}).(*Loaders)
}

// fetchFunc fetches values for many keys at once and returns exactly one
// per key, in key order.
type fetchFunc[K comparable, V any] func(ctx context.Context, keys []K) ([]V, error)

// batch turns a fetchFunc into a dataloader batch function. A failed fetch
// fails each key with its error.
func batch[K comparable, V any](fetch fetchFunc[K, V]) dataloader.BatchFunc[K, V] {
	return func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		out := make([]*dataloader.Result[V], len(keys))
		vals, err := fetch(ctx, keys)
		for i := range keys {
			if err != nil {
				out[i] = &dataloader.Result[V]{Error: err}
			} else {
				out[i] = &dataloader.Result[V]{Data: vals[i]}
			}
		}
		return out
	}
}

// bind adapts a db batch function on q.
func bind[V any](q sqlx.QueryerContext, f func(context.Context, sqlx.QueryerContext, []string) ([]V, error)) dataloader.BatchFunc[string, V] {
	return batch(func(ctx context.Context, ids []string) ([]V, error) { return f(ctx, q, ids) })
}

// customersByID looks customers up by id; an id without a row fails alone,
// with NOT_FOUND.
func customersByID(q sqlx.QueryerContext, cols db.Columns[db.Customer]) dataloader.BatchFunc[string, *db.Customer] {
	return func(ctx context.Context, ids []string) []*dataloader.Result[*db.Customer] {
		out := make([]*dataloader.Result[*db.Customer], len(ids))
		rows, err := db.CustomersByIDs(ctx, q, ids, cols)
		for i, id := range ids {
			switch {
			case err != nil:
				out[i] = &dataloader.Result[*db.Customer]{Error: err}
			case rows[i] == nil:
				out[i] = &dataloader.Result[*db.Customer]{Error: errcode.New(errcode.NotFound, "Customer with id: %s was not found", id)}
			default:
				out[i] = &dataloader.Result[*db.Customer]{Data: rows[i]}
			}
		}
		return out
	}
}

// paged adapts a db batch function of paginated children: keys are grouped
// by page, one statement per distinct page (a query asks for few), and the
// results put back in key order.
func paged[V any](q sqlx.QueryerContext, f func(context.Context, sqlx.QueryerContext, []string, db.Page) ([]V, error)) dataloader.BatchFunc[pageKey, V] {
	return batch(func(ctx context.Context, keys []pageKey) ([]V, error) {
		byPage := make(map[db.Page][]int)
		var pages []db.Page
		for i, k := range keys {
			if _, ok := byPage[k.Page]; !ok {
				pages = append(pages, k.Page)
			}
			byPage[k.Page] = append(byPage[k.Page], i)
		}
		out := make([]V, len(keys))
		for _, p := range pages {
			idx := byPage[p]
			ids := make([]string, len(idx))
			for j, i := range idx {
				ids[j] = keys[i].ID
			}
			vals, err := f(ctx, q, ids, p)
			if err != nil {
				return nil, err
			}
			for j, i := range idx {
				out[i] = vals[j]
			}
		}
		return out, nil
	})
}

// load runs a loader for one key. A key that prefetching did not put in
// the cache is a miss: fields are resolved in turn, so its batch runs for
// it alone, a statement and a loader wait for each row the path reaches,
// which is the N+1 that prefetching exists to prevent. Misses are counted
// for the request's metrics and logged at DEBUG with the field's path, so
// a query shape that prefetch.go does not foresee shows itself.
func load[K comparable, V any](ctx context.Context, l loader[K, V], key K) (V, error) {
	if _, cached := l.cache.Get(ctx, key); !cached {
		if r := observe.RequestFrom(ctx); r != nil {
			r.AddLoaderMiss(l.name)
		}
		if l.logger != nil && l.logger.Enabled(ctx, slog.LevelDebug) {
			l.logger.DebugContext(ctx, "loader miss: the relation was not prefetched", "loader", l.name, "path", graphql.GetPath(ctx).String())
		}
	}
	return l.Load(ctx, key)()
}
