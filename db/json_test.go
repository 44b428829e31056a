package db_test

import (
	"context"
	"encoding/json"
	"testing"

	"customerservice/db"
	"customerservice/db/dbtest"
)

// TestJSONObjectKeepsNumbersExact: a jsonb number survives the round trip
// through PostgreSQL and Go digit for digit.
func TestJSONObjectKeepsNumbersExact(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	in := db.JSONObject{"big": json.Number("12345678901234567890123"), "dec": json.Number("3.14159265358979323846264338327950288"), "s": "x"}
	var out db.JSONObject
	if err := pool.QueryRowContext(context.Background(), `SELECT $1::jsonb`, in).Scan(&out); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"big": json.Number("12345678901234567890123"), "dec": json.Number("3.14159265358979323846264338327950288"), "s": "x"} {
		if out[k] != want {
			t.Errorf("%s = %#v, want %#v", k, out[k], want)
		}
	}
	var null db.JSONObject = db.JSONObject{"stale": true}
	if err := null.Scan(nil); err != nil || null != nil {
		t.Errorf("Scan(nil) = %v, %v; want nil", null, err)
	}
	if err := out.Scan([]byte(`{"a": 1} {"b": 2}`)); err == nil {
		t.Error("Scan accepted two objects")
	}
}
