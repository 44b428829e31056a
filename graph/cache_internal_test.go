package graph

import (
	"context"
	"fmt"
	"testing"
)

// TestBoundedCache fills the cache past its budget: the least recently used
// entries go first, what remains stays within the budget, and an entry that
// alone costs more than a tenth of it is not kept.
func TestBoundedCache(t *testing.T) {
	ctx := context.Background()
	c := newBoundedCache(1000, func(k, v string) int { return len(v) })
	for i := range 20 {
		c.Add(ctx, fmt.Sprint(i), string(make([]byte, 100)))
		c.Get(ctx, "0") // used all along: it stays
	}
	if c.used > 1000 {
		t.Errorf("%d bytes kept, budget 1000", c.used)
	}
	for key, want := range map[string]bool{"0": true, "1": false, "10": false, "11": true, "19": true} {
		if _, ok := c.Get(ctx, key); ok != want {
			t.Errorf("key %s kept = %v, want %v", key, ok, want)
		}
	}
	c.Add(ctx, "big", string(make([]byte, 101)))
	if _, ok := c.Get(ctx, "big"); ok {
		t.Error("an entry of more than a tenth of the budget was kept")
	}
	c.Add(ctx, "19", "x") // replacing an entry recounts its cost
	if v, _ := c.Get(ctx, "19"); v != "x" || c.used != 9*100+1 {
		t.Errorf("after replacing: %q, %d bytes", v, c.used)
	}
}
