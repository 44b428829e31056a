package model_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/errcode"
	"customerservice/graph/model"
)

// FuzzScalars feeds arbitrary JSON values to the custom scalars: they
// accept or refuse, never panic, and what they accept is what PostgreSQL
// can store.
func FuzzScalars(f *testing.F) {
	for _, seed := range []string{`"2024-05-01T12:00:00Z"`, `{"a": 1}`, `"cus_01ARZ3NDEKTSV4RRFFQ69G5FAV"`, `12`, `null`, `[1]`, `"\u0000"`, `{"\u0000": 1}`, `"9999-12-31T23:59:59.999999999+14:00"`, `2147483648`, `-2147483649`, `1.5`, `1e3`, `"7"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return
		}
		if tm, err := model.UnmarshalTime(v); err == nil {
			var b bytes.Buffer
			model.MarshalTime(tm).MarshalGQL(&b)
			if _, err := model.UnmarshalTime(mustString(t, b.Bytes())); err != nil {
				t.Errorf("a time does not survive a round trip: %s: %v", b.Bytes(), err)
			}
		}
		if o, err := model.UnmarshalJSONObject(context.Background(), v); err == nil {
			b, err := json.Marshal(o)
			if err != nil || len(b) > model.MaxMetadataSize {
				t.Errorf("accepted metadata that does not fit: %d bytes, %v", len(b), err)
			}
		}
		if n, err := model.UnmarshalInt(context.Background(), v); err == nil && (n < math.MinInt32 || n > math.MaxInt32) {
			t.Errorf("accepted %d, outside GraphQL's 32-bit Int", n)
		}
		for _, unmarshal := range []func(any) (string, error){model.UnmarshalID, model.UnmarshalString} {
			if s, err := unmarshal(v); err == nil {
				for _, r := range s {
					if r == 0 {
						t.Errorf("accepted a NUL character: %q", s)
					}
				}
			}
		}
	})
}

func mustString(t *testing.T, b []byte) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s is not a JSON string: %v", b, err)
	}
	return s
}

func TestUnmarshalIntIs32Bit(t *testing.T) {
	t.Parallel()
	ctx := graphql.WithPathContext(context.Background(), graphql.NewPathWithField("input"))
	ctx = graphql.WithPathContext(ctx, graphql.NewPathWithField("items"))
	ctx = graphql.WithPathContext(ctx, graphql.NewPathWithIndex(2))
	ctx = graphql.WithPathContext(ctx, graphql.NewPathWithField("quantity"))
	const field = "input.items.2.quantity"
	for _, c := range []struct {
		in      any
		want    int
		message string
	}{
		{int64(7), 7, ""},
		{json.Number("2147483647"), math.MaxInt32, ""},
		{int64(math.MinInt32), math.MinInt32, ""},
		{1000.0, 1000, ""},
		{json.Number("1e3"), 1000, ""},
		{json.Number("-0.0"), 0, ""},
		{int64(3_000_000_000), 0, field + " must be an integer from -2147483648 to 2147483647 (GraphQL's Int is 32-bit), got 3000000000"},
		{json.Number("-2147483649"), 0, field + " must be an integer from -2147483648 to 2147483647 (GraphQL's Int is 32-bit), got -2147483649"},
		{json.Number("99999999999999999999"), 0, field + " must be an integer from -2147483648 to 2147483647 (GraphQL's Int is 32-bit), got 99999999999999999999"},
		{json.Number("1e400"), 0, field + " must be an integer from -2147483648 to 2147483647 (GraphQL's Int is 32-bit), got 1e400"},
		{3e9, 0, field + " must be an integer from -2147483648 to 2147483647 (GraphQL's Int is 32-bit), got 3e+09"},
		{1.5, 0, field + " must be a whole number, got 1.5"},
		{json.Number("2.5"), 0, field + " must be a whole number, got 2.5"},
		{"12", 0, field + ` must be a number, not the string "12"`},
		{true, 0, field + " must be an integer, got bool"},
		{nil, 0, field + " must not be null"},
	} {
		got, err := model.UnmarshalInt(ctx, c.in)
		if c.message == "" {
			if err != nil || got != c.want {
				t.Errorf("UnmarshalInt(%#v) = %d, %v; want %d", c.in, got, err, c.want)
			}
			continue
		}
		e, ok := errors.AsType[*errcode.Error](err)
		if !ok || e.Code != errcode.InvalidData || e.Field != field || e.Message != c.message {
			t.Errorf("UnmarshalInt(%#v) = %d, %v; want INVALID_DATA on %s: %q", c.in, got, err, field, c.message)
		}
	}
}

func TestMarshalIntWritesAnyInt(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]string{0: "0", -5: "-5", 5_000_000_000: "5000000000"} {
		var b bytes.Buffer
		if err := model.MarshalInt64(in).MarshalGQLContext(context.Background(), &b); err != nil || b.String() != want {
			t.Errorf("MarshalInt64(%d) wrote %q, %v; want %s", in, b.String(), err, want)
		}
	}
}
