package db_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"customerservice/db"
	"customerservice/db/dbtest"
)

func TestParseSeqs(t *testing.T) {
	for payload, want := range map[string][][2]int64{
		"7":             {{7, 7}},
		"12,15-1014":    {{12, 12}, {15, 1014}},
		"3-3,9":         {{3, 3}, {9, 9}},
		"1-2,4-5,7-100": {{1, 2}, {4, 5}, {7, 100}},
	} {
		got, err := db.ParseSeqs(payload)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseSeqs(%q) = %v, %v; want %v", payload, got, err, want)
		}
	}
	for _, payload := range []string{"", "0", "-1", "x", "5-3", "1-", "1,,2", "1-2-3", "9223372036854775808"} {
		if got, err := db.ParseSeqs(payload); err == nil {
			t.Errorf("parseSeqs(%q) = %v, want an error", payload, got)
		}
	}
}

// A statement's events reach the listener as numbers and ranges, each
// number once and in order, however the numbers fall: one range, many
// notifications of 300 items, and a batch of customers inserted at once.
func TestListenerHearsEveryEventOfAStatement(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.URL(t)
	pool, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	l, err := db.ListenEvents(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	hear := func(n int) []int64 {
		t.Helper()
		var got []int64
		timeout := time.After(10 * time.Second)
		for len(got) < n {
			select {
			case seq := <-l.Notes():
				got = append(got, seq)
			case <-timeout:
				t.Fatalf("heard %d of %d events", len(got), n)
			}
		}
		return got
	}

	// Every other number from 1 to 1999: a thousand items, four
	// notifications.
	odd := make([]int64, 0, 1000)
	for s := int64(1); s < 2000; s += 2 {
		odd = append(odd, s)
	}
	if _, err := pool.ExecContext(ctx, `SELECT notify_events($1)`, pq.Array(odd)); err != nil {
		t.Fatal(err)
	}
	if got := hear(len(odd)); !slices.Equal(got, odd) {
		t.Fatalf("heard %v..., want the odd numbers 1 to 1999 in order", got[:10])
	}

	// 1,000 customers in one statement: their 1,000 customer.created
	// events, the actor's, each heard once.
	var ids []string
	for range 1000 {
		ids = append(ids, db.NewID(db.PrefixCustomer))
	}
	if _, err := db.InTx(ctx, pool, func(tx db.Tx) (struct{}, error) {
		if _, err := tx.ExecContext(ctx, `SELECT set_config('app.actor_type', 'user', true), set_config('app.actor_id', 'usr_test', true)`); err != nil {
			return struct{}{}, err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO customer (id, email) SELECT id, lower(id) || '@example.com' FROM unnest($1::text[]) AS id`, pq.Array(ids))
		return struct{}{}, err
	}); err != nil {
		t.Fatal(err)
	}
	var written []int64
	if err := sqlx.SelectContext(ctx, pool, &written, `SELECT seq FROM event WHERE type = 'customer.created' AND actor_type = 'user' AND actor_id = 'usr_test' ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	if len(written) != len(ids) {
		t.Fatalf("%d customer.created events with the actor, want %d", len(written), len(ids))
	}
	if got := hear(len(written)); !slices.Equal(got, written) {
		t.Fatalf("heard %v, want %v", got, written)
	}
	select {
	case seq := <-l.Notes():
		t.Fatalf("heard %d more than was written", seq)
	case <-time.After(200 * time.Millisecond):
	}
}
