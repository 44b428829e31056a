package graph

import (
	"context"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"github.com/jmoiron/sqlx"

	"github.com/acme/customerservice/db"
	"github.com/acme/customerservice/errcode"
)

// Loaders batch the relations of one request: every customer's groups,
// addresses or orders are fetched by one statement, whatever the number of
// customers. They are made anew for every operation and never shared, since
// a batch runs with the context of its first caller.
type Loaders struct {
	CustomerByID         *dataloader.Loader[string, *db.Customer]
	GroupsByCustomer     *dataloader.Loader[string, []*db.CustomerGroup]
	AddressesByCustomer  *dataloader.Loader[string, []*db.Address]
	OrdersByCustomer     *dataloader.Loader[pageKey, []*db.Order]
	OrderCountByCustomer *dataloader.Loader[string, int]
	ItemsByOrder         *dataloader.Loader[string, []*db.LineItem]
	MembersByGroup       *dataloader.Loader[pageKey, []*db.Customer]
	MemberCountByGroup   *dataloader.Loader[string, int]
}

// pageKey is the key of a paginated relation: the parent and the page, since
// field arguments differ between places in one query.
type pageKey struct {
	ID   string
	Page db.Page
}

// DefaultLoaderWait is how long a loader collects keys before it runs its
// batch: long enough for gqlgen to resolve the sibling fields of a list,
// short next to a statement's round trip.
const DefaultLoaderWait = 2 * time.Millisecond

// NewLoaders returns the loaders of one request.
func NewLoaders(q sqlx.QueryerContext, wait time.Duration) *Loaders {
	return &Loaders{
		CustomerByID:        newLoader(wait, customersByID(q)),
		GroupsByCustomer:    newLoader(wait, bind(q, db.GroupsByCustomerIDs)),
		AddressesByCustomer: newLoader(wait, bind(q, db.AddressesByCustomerIDs)),
		OrdersByCustomer: newLoader(wait, paged(q, func(ctx context.Context, q sqlx.QueryerContext, ids []string, p db.Page) ([][]*db.Order, error) {
			return db.OrdersByCustomerIDs(ctx, q, ids, p.Limit, p.Offset)
		})),
		OrderCountByCustomer: newLoader(wait, bind(q, db.CountOrdersByCustomerIDs)),
		ItemsByOrder:         newLoader(wait, bind(q, db.LineItemsByOrderIDs)),
		MembersByGroup:       newLoader(wait, paged(q, db.CustomersByGroupIDs)),
		MemberCountByGroup:   newLoader(wait, bind(q, db.CountCustomersByGroupIDs)),
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

func newLoader[K comparable, V any](wait time.Duration, fetch dataloader.BatchFunc[K, V]) *dataloader.Loader[K, V] {
	return dataloader.NewBatchedLoader(fetch, dataloader.WithWait[K, V](wait))
}

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
func customersByID(q sqlx.QueryerContext) dataloader.BatchFunc[string, *db.Customer] {
	return func(ctx context.Context, ids []string) []*dataloader.Result[*db.Customer] {
		out := make([]*dataloader.Result[*db.Customer], len(ids))
		rows, err := db.CustomersByIDs(ctx, q, ids)
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

// load runs a loader for one key.
func load[K comparable, V any](ctx context.Context, l *dataloader.Loader[K, V], key K) (V, error) {
	return l.Load(ctx, key)()
}
