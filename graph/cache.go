package graph

import (
	"container/list"
	"context"
	"sync"
)

// boundedCache is a least-recently-used cache of at most budget bytes, as
// cost counts them, for gqlgen's caches. A bound in entries alone lets a
// client fill the cache with the largest documents the limits allow: a
// thousand parsed documents of 10,000 tokens are gigabytes.
type boundedCache[T any] struct {
	budget int
	cost   func(key string, value T) int

	mu    sync.Mutex
	used  int
	order *list.List // of *cacheEntry[T], most recently used first
	byKey map[string]*list.Element
}

type cacheEntry[T any] struct {
	key   string
	value T
	cost  int
}

func newBoundedCache[T any](budget int, cost func(key string, value T) int) *boundedCache[T] {
	return &boundedCache[T]{budget: budget, cost: cost, order: list.New(), byKey: map[string]*list.Element{}}
}

// Get returns the value kept for key.
func (c *boundedCache[T]) Get(_ context.Context, key string) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byKey[key]
	if !ok {
		var zero T
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry[T]).value, true
}

// Add keeps value for key, letting the least recently used entries go to
// stay within the budget. A value that alone costs more than a tenth of
// the budget is not kept: it would push out many others.
func (c *boundedCache[T]) Add(_ context.Context, key string, value T) {
	cost := c.cost(key, value)
	if cost > c.budget/10 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byKey[key]; ok {
		c.used -= e.Value.(*cacheEntry[T]).cost
		c.order.Remove(e)
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry[T]{key: key, value: value, cost: cost})
	c.used += cost
	for c.used > c.budget {
		last := c.order.Back()
		old := last.Value.(*cacheEntry[T])
		c.order.Remove(last)
		delete(c.byKey, old.key)
		c.used -= old.cost
	}
}

// Cache budgets. A parsed and validated document takes ten to thirty times
// its text (measured on the headline query and graphql-js's introspection
// query); 32 times, and a kilobyte for the entry, errs on the safe side.
const (
	documentCacheBudget  = 16 << 20
	persistedCacheBudget = 4 << 20
)
