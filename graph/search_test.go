package graph_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestLongSearchFindsWhatTheWholeFragmentMatches: a q longer than six
// characters asks the trigram index for its rarest six (search_pattern,
// migration 0020) and checks the rows against all of it, so a search finds
// exactly the customers whose text contains q, whatever six are chosen:
// wildcards and backslashes in q match themselves, windows across them
// included, and with the trigram counts fresh, stale or absent.
func TestLongSearchFindsWhatTheWholeFragmentMatches(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	type stored struct{ id, text string }
	var all []stored
	add := func(email, company string) {
		c := a.createCustomer(map[string]any{"email": email, "company_name": company})
		all = append(all, stored{c.ID, strings.ToLower(email + " " + company)})
	}
	for i := range 60 {
		add(fmt.Sprintf("customer%04d@example.com", i), fmt.Sprintf("Shop %d", i%7))
	}
	for _, company := range []string{`50%_off\deal`, `50X_off\deal`, `50%Yoff\deal`, `50%_offZdeal`, `Müller Übersee`, `mueller uebersee`} {
		add(fmt.Sprintf("c%d@tricky.example", len(all)), company)
	}
	queries := []string{
		"customer0017@", "r0017@example", "tomer00", "customer00", "0042@exa", "example.com", "Shop 3",
		`50%_off\deal`, `%_off\d`, `_off\de`, `0%_off`, `off\deal`, `%Yoff\`, `X_off\deal`, `ller Übers`, `Müller Übersee`, `MUELLER UEBERSEE`,
		"nothing like this", "%%%%%%%%", `\\\\\\\\`, "________",
	}
	search := func(q string) []string {
		var got struct {
			Customers struct {
				Count int `json:"count"`
				Items []struct {
					ID string `json:"id"`
				} `json:"items"`
			} `json:"customers"`
		}
		a.query(`query ($q: String) { customers(filter: {q: $q}, limit: 100) { count items { id } } }`, map[string]any{"q": q}, &got)
		var ids []string
		for _, c := range got.Customers.Items {
			ids = append(ids, c.ID)
		}
		if got.Customers.Count != len(ids) {
			t.Errorf("q %q: count %d, %d items", q, got.Customers.Count, len(ids))
		}
		slices.Sort(ids)
		return ids
	}
	check := func(when string) {
		for _, q := range queries {
			var want []string
			for _, c := range all {
				if strings.Contains(c.text, strings.ToLower(q)) {
					want = append(want, c.id)
				}
			}
			slices.Sort(want)
			if got := search(q); !slices.Equal(got, want) {
				t.Errorf("%s: q %q found %d customers, want %d", when, q, len(got), len(want))
			}
		}
	}
	a.pool.MustExec(`DELETE FROM search_trigram`)
	check("no counts")
	a.pool.MustExec(`SELECT refresh_search_trigrams()`)
	check("counted")
	add("customer9999@late.example", `50%_off\deal late`)
	check("counted before the last customer")

	// The six characters asked for are the rare ones: the number, not
	// "custom", which every customer has.
	var pattern string
	if err := a.pool.QueryRow(`SELECT search_pattern('customer0017@')`).Scan(&pattern); err != nil {
		t.Fatal(err)
	}
	if len(pattern) != 8 || !strings.Contains(pattern, "0017") {
		t.Errorf("search_pattern('customer0017@') = %q, want six characters around 0017", pattern)
	}
}
