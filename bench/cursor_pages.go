package bench

// The cursor-pages measurement: a deep page of each list, by offset and by
// cursor, against a seeded server (BENCHMARKS.md, cursor pagination).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// CursorPagesConfig is a run of the cursor-pages measurement.
type CursorPagesConfig struct {
	// URL is the server's base URL; AdminToken reads the lists.
	URL        string
	AdminToken string
	// Runs is how many times each page is read, after two warm-ups.
	Runs int
	// Group, when set, adds its members' list to the cases.
	Group string
	// Only, when set, keeps the cases whose order contains it.
	Only string
}

// CursorCase is one list in one order: its first page, its page Page by
// offset, and the same page by the end cursor of the page before it.
type CursorCase struct {
	List  string `json:"list"`
	Order string `json:"order"`
	Page  int    `json:"page"`
	// Same says whether both ways answered the same rows.
	Same        bool           `json:"same_rows"`
	HasNextPage bool           `json:"has_next_page"`
	Reads       []CursorTiming `json:"reads"`
}

// CursorTiming is how long one way of reading a page took.
type CursorTiming struct {
	How   string  `json:"how"`
	P50Ms float64 `json:"p50_ms"`
	MinMs float64 `json:"min_ms"`
	MaxMs float64 `json:"max_ms"`
}

const cursorLimit = 25

// RunCursorPages reads the pages of every case and times them.
func RunCursorPages(ctx context.Context, cfg CursorPagesConfig) ([]CursorCase, error) {
	if cfg.Runs < 1 {
		cfg.Runs = 15
	}
	d := &driver{cfg: Config{URL: cfg.URL}, client: &http.Client{Timeout: time.Minute}}
	const args = "(limit: $limit, order: $order, after: $after, offset: $offset)"
	type spec struct {
		list, field, order string
		page               int
		group              bool
	}
	// Nullable orders: at 1,000,000 customers page 40,000 is among the
	// nulls (20% of customers never ordered; BENCHMARKS.md nulls 10% of
	// last names), page 20,000 among the values.
	specs := []spec{{"customers", "customers", "-created_at", 40_000, false}}
	for _, order := range []string{"last_name", "-last_order_at"} {
		specs = append(specs, spec{"customers", "customers", order, 20_000, false}, spec{"customers", "customers", order, 40_000, false})
	}
	specs = append(specs, spec{"orders", "orders", "-created_at", 40_000, false})
	if cfg.Group != "" {
		specs = append(specs, spec{"a group's members", "customers", "-created_at", 2_000, true})
	}
	var cases []CursorCase
	for _, s := range specs {
		if !strings.Contains(s.order, cfg.Only) {
			continue
		}
		sel := fmt.Sprintf("list: %s%s { items { id email } page_info { end_cursor has_next_page } }", s.field, args)
		if s.group {
			sel = fmt.Sprintf("customer_group(id: %q) { %s }", cfg.Group, sel)
		}
		query := "query ($limit: Int, $order: String, $after: String, $offset: Int) { " + sel + " }"
		c, err := cursorCase(ctx, d, cfg, query, s.list, s.order, s.page)
		if err != nil {
			return nil, fmt.Errorf("%s, order %s: %w", s.list, s.order, err)
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// cursorPage is a list's page as the cases read it.
type cursorPage struct {
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	PageInfo struct {
		EndCursor   string `json:"end_cursor"`
		HasNextPage bool   `json:"has_next_page"`
	} `json:"page_info"`
}

func cursorCase(ctx context.Context, d *driver, cfg CursorPagesConfig, query, list, order string, page int) (CursorCase, error) {
	depth := (page - 1) * cursorLimit
	vars := func(offset int, after string) map[string]any {
		if after != "" {
			return map[string]any{"limit": cursorLimit, "order": order, "after": after}
		}
		return map[string]any{"limit": cursorLimit, "order": order, "offset": offset}
	}
	before, _, err := readPage(ctx, d, cfg.AdminToken, query, vars(depth-cursorLimit, ""))
	if err != nil {
		return CursorCase{}, err
	}
	c := CursorCase{List: list, Order: order, Page: page}
	var pages []cursorPage
	for _, way := range []struct {
		how  string
		vars map[string]any
	}{
		{"first page", vars(0, "")},
		{fmt.Sprintf("page %d by offset %d", page, depth), vars(depth, "")},
		{fmt.Sprintf("page %d by after", page), vars(0, before.PageInfo.EndCursor)},
	} {
		var times []time.Duration
		var got cursorPage
		for i := range cfg.Runs + 2 {
			p, took, err := readPage(ctx, d, cfg.AdminToken, query, way.vars)
			if err != nil {
				return CursorCase{}, fmt.Errorf("%s: %w", way.how, err)
			}
			if i >= 2 {
				times = append(times, took)
			}
			got = p
		}
		slices.Sort(times)
		c.Reads = append(c.Reads, CursorTiming{How: way.how, P50Ms: percentile(times, 0.5),
			MinMs: percentile(times, 0), MaxMs: percentile(times, 1)})
		pages = append(pages, got)
	}
	c.Same = slices.Equal(pageIDs(pages[1]), pageIDs(pages[2]))
	c.HasNextPage = pages[2].PageInfo.HasNextPage
	return c, nil
}

// readPage reads the page query answers, at the root or one object down
// (a group's members), and how long it took.
func readPage(ctx context.Context, d *driver, token, query string, vars map[string]any) (cursorPage, time.Duration, error) {
	var out struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	start := time.Now()
	if err := d.post(ctx, request{query, vars, token}, &out); err != nil {
		return cursorPage{}, 0, err
	}
	took := time.Since(start)
	if len(out.Errors) > 0 {
		return cursorPage{}, 0, fmt.Errorf("%s", out.Errors[0].Message)
	}
	raw, ok := out.Data["list"]
	if !ok {
		var group struct {
			List json.RawMessage `json:"list"`
		}
		if err := json.Unmarshal(out.Data["customer_group"], &group); err != nil {
			return cursorPage{}, 0, err
		}
		raw = group.List
	}
	var p cursorPage
	err := json.Unmarshal(raw, &p)
	return p, took, err
}

func pageIDs(p cursorPage) []string {
	ids := make([]string, len(p.Items))
	for i, item := range p.Items {
		ids[i] = item.ID
	}
	return ids
}

// PrintCursorPages writes the cases as BENCHMARKS.md's tables have them.
func PrintCursorPages(w io.Writer, cases []CursorCase) {
	for _, c := range cases {
		fmt.Fprintf(w, "\n%s (order %s): same rows by offset and by cursor: %t, has_next_page %t\n", c.List, c.Order, c.Same, c.HasNextPage)
		for _, r := range c.Reads {
			fmt.Fprintf(w, "| %s | %.1f ms | %.1f - %.1f ms |\n", r.How, r.P50Ms, r.MinMs, r.MaxMs)
		}
	}
}
