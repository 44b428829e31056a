package graph

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/db"
	"customerservice/graph/model"
)

// Prefetching is what batches relations. The executor resolves the fields
// of an object, and the elements of a list, one after the other
// (graph/generate.go), so a loader's timed batch only ever gathers the one
// key its field asks for. A resolver that produces objects therefore looks
// ahead at the relations the query selects on them and runs each loader's
// batch for all of them at once, level by level, filling the loaders'
// caches; the field resolvers then find their values there. The number of
// statements a request sends is fixed by its query, whatever the rows and
// the load. A relation this does not foresee is not batched at all: it
// costs a statement and a loader wait per row, and is counted as a loader
// miss (see load in loaders.go); TestEveryRelationPathIsPrefetched walks
// the schema so that there is none.

// prefetched returns a function that prefetches the relations of the rows a
// list resolver is about to return, when there was no error, so that
//
//	return prefetched(ctx, prefetchCustomers)(db.ListCustomers(...))
//
// reads as one step.
func prefetched[T any](ctx context.Context, prefetch func(context.Context, []*T)) func([]*T, error) ([]*T, error) {
	return func(rows []*T, err error) ([]*T, error) {
		if err == nil {
			prefetch(ctx, rows)
		}
		return rows, err
	}
}

// prefetchedOne is prefetched for a resolver that returns one object.
func prefetchedOne[T any](ctx context.Context, prefetch func(context.Context, []*T)) func(*T, error) (*T, error) {
	return func(row *T, err error) (*T, error) {
		if err == nil {
			prefetch(ctx, []*T{row})
		}
		return row, err
	}
}

// prefetchCustomers loads the selected relations of customers.
func prefetchCustomers(ctx context.Context, customers []*db.Customer) {
	if len(customers) == 0 {
		return
	}
	prefetchCustomerFields(ctx, customers, graphql.CollectFieldsCtx(ctx, []string{"Customer"}))
}

// prefetchOrders loads the selected relations of orders.
func prefetchOrders(ctx context.Context, orders []*db.Order) {
	if len(orders) == 0 {
		return
	}
	prefetchOrderFields(ctx, orders, graphql.CollectFieldsCtx(ctx, []string{"Order"}))
}

// prefetchAddresses loads the selected relations of addresses: their
// customers.
func prefetchAddresses(ctx context.Context, addresses []*db.Address) {
	if len(addresses) == 0 {
		return
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"Address"}) {
		if f.Name != "customer" {
			continue
		}
		l := loadersFrom(ctx)
		ids := make([]string, len(addresses))
		for i, a := range addresses {
			ids[i] = a.CustomerID
		}
		l.CustomerByID.prefetch(ctx, ids)
		if sub := children(ctx, f, "Customer"); needsCustomerPrefetch(sub) {
			prefetchCustomerFields(ctx, unique(l.CustomerByID.cached(ctx, ids)), sub)
		}
	}
}

// prefetchGroups loads the selected relations of customer groups.
func prefetchGroups(ctx context.Context, groups []*db.CustomerGroup) {
	if len(groups) == 0 {
		return
	}
	prefetchGroupFields(ctx, groups, graphql.CollectFieldsCtx(ctx, []string{"CustomerGroup"}))
}

func prefetchCustomerFields(ctx context.Context, customers []*db.Customer, fields []graphql.CollectedField) {
	l := loadersFrom(ctx)
	ids := make([]string, len(customers))
	for i, c := range customers {
		ids[i] = c.ID
		// Addresses and orders of these customers point back at them.
		l.CustomerByID.Prime(ctx, c.ID, c)
	}
	var tasks []func()
	addresses, verified := false, false
	// An address's customer is the customer its address book was loaded
	// for, primed above: what a query selects on it is prefetched for these
	// customers, once this level's batches have filled the caches.
	var addressCustomers [][]graphql.CollectedField
	for _, f := range fields {
		switch f.Name {
		case "groups":
			tasks = append(tasks, func() {
				l.GroupsByCustomer.prefetch(ctx, ids)
				if sub := children(ctx, f, "CustomerGroup"); needsGroupPrefetch(sub) {
					prefetchGroupFields(ctx, flatten(l.GroupsByCustomer.cached(ctx, ids)), sub)
				}
			})
		case "addresses", "billing_address", "shipping_addresses":
			if !addresses { // one batch serves the three fields
				addresses = true
				tasks = append(tasks, func() { l.AddressesByCustomer.prefetch(ctx, ids) })
			}
			for _, af := range children(ctx, f, "Address") {
				if af.Name != "customer" {
					continue
				}
				if sub := children(ctx, af, "Customer"); needsCustomerPrefetch(sub) {
					addressCustomers = append(addressCustomers, sub)
				}
			}
		case "email_verified", "email_verified_at":
			if !verified { // one batch serves the two fields
				verified = true
				tasks = append(tasks, func() { l.EmailVerifiedByCustomer.prefetch(ctx, ids) })
			}
		case "stats":
			tasks = append(tasks, func() { l.StatsByCustomer.prefetch(ctx, ids) })
		case "timeline":
			if !isAdmin(ctx) {
				continue // @auth refuses the field
			}
			args := f.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
			limit, ok := intArg(ctx, args, "limit")
			if !ok {
				continue // the field's resolver reports it
			}
			n, cursor, err := eventPageArgs(limit, stringArg(args, "after"))
			if err != nil {
				continue // the field's resolver reports it
			}
			tasks = append(tasks, func() {
				keys := make([]timelineKey, len(ids))
				for i, id := range ids {
					keys[i] = timelineKey{ID: id, From: cursor, Limit: n + 1}
				}
				l.TimelineByCustomer.prefetch(ctx, keys)
			})
		case "orders":
			args := f.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
			limit, okLimit := intArg(ctx, args, "limit")
			offset, okOffset := intArg(ctx, args, "offset")
			if !okLimit || !okOffset {
				continue // the field's resolver reports it
			}
			list, err := customerOrderList("", limit, offset, stringArg(args, "after"))
			if err != nil {
				continue // the field's resolver reports it
			}
			keys := pageKeys(ids, list.Page)
			count, page, items := pagedFields(ctx, f, "OrderList", "Order")
			if count {
				tasks = append(tasks, func() { l.OrderCountByCustomer.prefetch(ctx, ids) })
			}
			if page {
				tasks = append(tasks, func() {
					l.OrdersByCustomer.prefetch(ctx, keys)
					if needsOrderPrefetch(items) {
						prefetchOrderFields(ctx, flatten(sliceRowsOf(l.OrdersByCustomer.cached(ctx, keys))), items)
					}
				})
			}
		}
	}
	runAll(tasks)
	for _, sub := range addressCustomers {
		prefetchCustomerFields(ctx, customers, sub)
	}
}

// runAll runs independent batches at once, each on a connection of its
// own: a level of the query costs one round trip, not one per relation.
// A panic in a batch is raised again in the caller's goroutine, where
// gqlgen recovers it as the request's INTERNAL error; left in its own
// goroutine it would end the process.
func runAll(tasks []func()) {
	if len(tasks) == 1 {
		tasks[0]()
		return
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		panicked  any
		panicking bool
	)
	for _, t := range tasks {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					if !panicking {
						panicked, panicking = fmt.Sprintf("%v\n%s", p, debug.Stack()), true
					}
					mu.Unlock()
				}
			}()
			t()
		})
	}
	wg.Wait()
	if panicking {
		panic(panicked)
	}
}

func needsOrderPrefetch(fields []graphql.CollectedField) bool {
	for _, f := range fields {
		if f.Name == "items" || f.Name == "customer" {
			return true
		}
	}
	return false
}

func prefetchOrderFields(ctx context.Context, orders []*db.Order, fields []graphql.CollectedField) {
	l := loadersFrom(ctx)
	var tasks []func()
	for _, f := range fields {
		switch f.Name {
		case "items":
			ids := make([]string, len(orders))
			for i, o := range orders {
				ids[i] = o.ID
			}
			tasks = append(tasks, func() { l.ItemsByOrder.prefetch(ctx, ids) })
		case "customer":
			ids := make([]string, len(orders))
			for i, o := range orders {
				ids[i] = o.CustomerID
			}
			tasks = append(tasks, func() {
				l.CustomerByID.prefetch(ctx, ids)
				if sub := children(ctx, f, "Customer"); needsCustomerPrefetch(sub) {
					prefetchCustomerFields(ctx, unique(l.CustomerByID.cached(ctx, ids)), sub)
				}
			})
		}
	}
	runAll(tasks)
}

func needsCustomerPrefetch(fields []graphql.CollectedField) bool {
	for _, f := range fields {
		switch f.Name {
		case "groups", "addresses", "billing_address", "shipping_addresses", "orders", "timeline", "stats",
			"email_verified", "email_verified_at":
			return true
		}
	}
	return false
}

func prefetchGroupFields(ctx context.Context, groups []*db.CustomerGroup, fields []graphql.CollectedField) {
	if !isAdmin(ctx) {
		return // members are for admin users; @auth refuses the field
	}
	l := loadersFrom(ctx)
	ids := make([]string, len(groups))
	for i, g := range groups {
		ids[i] = g.ID
	}
	var tasks []func()
	for _, f := range fields {
		if f.Name != "customers" {
			continue
		}
		args := f.ArgumentMap(graphql.GetOperationContext(ctx).Variables)
		limit, okLimit := intArg(ctx, args, "limit")
		offset, okOffset := intArg(ctx, args, "offset")
		if !okLimit || !okOffset {
			continue // the field's resolver reports it
		}
		list, err := groupMemberList("", limit, offset, stringArg(args, "order"), stringArg(args, "after"))
		if err != nil {
			continue // the field's resolver reports it
		}
		keys := pageKeys(ids, list.Page)
		count, page, items := pagedFields(ctx, f, "CustomerList", "Customer")
		if count {
			tasks = append(tasks, func() { l.MemberCountByGroup.prefetch(ctx, ids) })
		}
		if page {
			tasks = append(tasks, func() {
				l.MembersByGroup.prefetch(ctx, keys)
				if needsCustomerPrefetch(items) {
					prefetchCustomerFields(ctx, unique(flatten(sliceRowsOf(l.MembersByGroup.cached(ctx, keys)))), items)
				}
			})
		}
	}
	runAll(tasks)
}

func needsGroupPrefetch(fields []graphql.CollectedField) bool {
	for _, f := range fields {
		if f.Name == "customers" {
			return true
		}
	}
	return false
}

// pagedFields reads what a query selects on the list f of a paged
// relation, of type listType: its count, and its page (items, or
// page_info, which comes with the page from its batch), with the fields
// selected on the items, of type itemType.
func pagedFields(ctx context.Context, f graphql.CollectedField, listType, itemType string) (count, page bool, items []graphql.CollectedField) {
	for _, lf := range children(ctx, f, listType) {
		switch lf.Name {
		case "count":
			count = true
		case "items":
			items = append(items, children(ctx, lf, itemType)...)
			page = true
		case "page_info":
			page = true
		}
	}
	return count, page, items
}

// children returns the fields selected under f, an object of type typeName.
func children(ctx context.Context, f graphql.CollectedField, typeName string) []graphql.CollectedField {
	return graphql.CollectFields(graphql.GetOperationContext(ctx), f.Selections, []string{typeName})
}

func pageKeys(ids []string, p db.Page) []pageKey {
	keys := make([]pageKey, len(ids))
	for i, id := range ids {
		keys[i] = pageKey{ID: id, Page: p}
	}
	return keys
}

// sliceRowsOf returns the rows of each page of a batch.
func sliceRowsOf[T any](pages []db.Slice[T]) [][]*T {
	out := make([][]*T, len(pages))
	for i, p := range pages {
		out[i] = p.Rows
	}
	return out
}

func flatten[T any](lists [][]*T) []*T {
	var out []*T
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// unique drops repeated pointers: many orders share a customer.
func unique[T any](items []*T) []*T {
	seen := make(map[*T]bool, len(items))
	out := make([]*T, 0, len(items))
	for _, it := range items {
		if !seen[it] {
			seen[it] = true
			out = append(out, it)
		}
	}
	return out
}

// intArg reads an Int argument as gqlgen's argument map holds it, with the
// scalar's own checks; false when the field refuses it, which the field's
// resolver reports.
func intArg(ctx context.Context, args map[string]any, name string) (*int, bool) {
	v, ok := args[name]
	if !ok || v == nil {
		return nil, true
	}
	n, err := model.UnmarshalInt(ctx, v)
	if err != nil {
		return nil, false
	}
	return &n, true
}

func stringArg(args map[string]any, name string) *string {
	if s, ok := args[name].(string); ok {
		return &s
	}
	return nil
}
