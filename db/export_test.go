package db

import "io/fs"

// Migrations are the embedded migration files, for tests that run them
// down and up.
var Migrations fs.FS = migrations

// ParseSeqs reads an event notification's payload, as the listener does:
// each range as {from, to}.
func ParseSeqs(payload string) ([][2]int64, error) {
	ranges, err := parseSeqs(payload)
	out := make([][2]int64, len(ranges))
	for i, r := range ranges {
		out[i] = [2]int64{r.from, r.to}
	}
	return out, err
}

// CustomerPageSQL is the statement of the page p of the customers f
// selects, for tests that EXPLAIN it.
func CustomerPageSQL(f CustomerFilter, p Page) (string, []any, error) {
	l, err := customerQuery(f, p)
	if err != nil {
		return "", nil, err
	}
	query, args := l.sql(customerTable.list(Columns[Customer]{}), p.Limit)
	return query, args, nil
}
