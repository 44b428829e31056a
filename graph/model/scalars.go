package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"customerservice/db"
	"customerservice/errcode"
)

// MaxMetadataSize bounds a metadata object, encoded as JSON.
const MaxMetadataSize = db.MaxMetadataSize

// MarshalJSONObject writes the JSON scalar, numbers digit for digit as they
// were stored.
func MarshalJSONObject(o db.JSONObject) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		b := []byte("null")
		if o != nil {
			var err error
			if b, err = json.Marshal(o); err != nil {
				// Only values decoded from JSON reach here; they encode.
				b = []byte("null")
			}
		}
		_, err := w.Write(b)
		return err
	})
}

// UnmarshalJSONObject reads the JSON scalar: a JSON object of at most
// MaxMetadataSize bytes. Its numbers are kept as json.Number, exact
// whatever their size: gqlgen decodes variables with UseNumber, and the
// numbers of an inline literal are read again from the query document
// (gqlparser hands them over as float64).
func UnmarshalJSONObject(ctx context.Context, v any) (db.JSONObject, error) {
	field := inputField(ctx)
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errcode.Invalid(field, "%s must be a JSON object", field)
	}
	if lit := literal(ctx); lit != nil {
		if exact, ok := withLiteralNumbers(lit, m).(map[string]any); ok {
			m = exact
		}
	}
	return db.CleanMetadata(field, m)
}

// MarshalInt writes the Int scalar. Outputs are written whatever their
// size, as before: a count or a total is what it is.
func MarshalInt(i int) graphql.ContextMarshaler { return MarshalInt64(int64(i)) }

// UnmarshalInt reads the Int scalar: GraphQL's Int is a signed 32-bit
// integer, and input outside it is refused (INVALID_DATA naming the
// argument), as are strings and numbers with a fraction.
func UnmarshalInt(ctx context.Context, v any) (int, error) {
	n, err := UnmarshalInt64(ctx, v)
	return int(n), err
}

// MarshalInt64 writes the Int scalar for int64 fields, such as amounts.
func MarshalInt64(i int64) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, strconv.FormatInt(i, 10))
		return err
	})
}

// UnmarshalInt64 reads the Int scalar into an int64 field: a signed 32-bit
// integer, as UnmarshalInt.
func UnmarshalInt64(ctx context.Context, v any) (int64, error) {
	n, err := int32Of(v)
	if err != nil {
		field := inputField(ctx)
		return 0, errcode.Invalid(field, "%s %s", field, err.Error())
	}
	return n, nil
}

// int32Of returns v, an Int input as gqlgen hands it over (int64 from a
// literal, json.Number or, from a test or another caller, a float64), when
// it is a whole number in GraphQL's 32-bit range.
func int32Of(v any) (int64, error) {
	var f float64
	switch v := v.(type) {
	case int:
		return int32Range(int64(v))
	case int32:
		return int64(v), nil
	case int64:
		return int32Range(v)
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return int32Range(n)
		}
		var err error
		if f, err = strconv.ParseFloat(string(v), 64); err != nil {
			return 0, fmt.Errorf("must be an integer from %d to %d (GraphQL's Int is 32-bit), got %s", math.MinInt32, math.MaxInt32, v)
		}
	case float64:
		f = v
	case string:
		return 0, fmt.Errorf("must be a number, not the string %q", v)
	case nil:
		return 0, errors.New("must not be null")
	default:
		return 0, fmt.Errorf("must be an integer, got %T", v)
	}
	// As graphql-js, a float is an Int when it is whole (1.0, 1e3).
	if f < math.MinInt32 || f > math.MaxInt32 || math.IsNaN(f) {
		return 0, fmt.Errorf("must be an integer from %d to %d (GraphQL's Int is 32-bit), got %v", math.MinInt32, math.MaxInt32, v)
	}
	if f != math.Trunc(f) {
		return 0, fmt.Errorf("must be a whole number, got %v", v)
	}
	return int64(f), nil
}

func int32Range(n int64) (int64, error) {
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, fmt.Errorf("must be an integer from %d to %d (GraphQL's Int is 32-bit), got %d", math.MinInt32, math.MaxInt32, n)
	}
	return n, nil
}

// MarshalTime writes the Time scalar in RFC 3339, with the fractional
// seconds PostgreSQL keeps.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.MarshalTime(t)
}

// UnmarshalTime reads the Time scalar: an RFC 3339 string.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, errcode.New(errcode.InvalidData, "a Time must be an RFC 3339 string, such as 2024-05-01T12:00:00Z")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errcode.New(errcode.InvalidData, "%q is not an RFC 3339 time, such as 2024-05-01T12:00:00Z", s)
	}
	// Year 0 is 1 BC: outside what the API deals in, and a trap for the
	// database's calendar.
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return time.Time{}, errcode.New(errcode.InvalidData, "%q is outside the years 1 to 9999", s)
	}
	return t, nil
}

// maxID bounds an ID: real ones have a prefix and 26 characters.
const maxID = 100

// MarshalID writes the ID scalar.
func MarshalID(s string) graphql.Marshaler { return graphql.MarshalString(s) }

// UnmarshalID reads the ID scalar: a string (or, as GraphQL allows, an
// integer) that PostgreSQL can hold.
func UnmarshalID(v any) (string, error) {
	s, err := graphql.UnmarshalID(v)
	if err != nil {
		return "", errcode.New(errcode.InvalidData, "an ID must be a string")
	}
	if len(s) > maxID {
		return "", errcode.New(errcode.InvalidData, "an ID has at most %d characters, got %d", maxID, len(s))
	}
	if strings.ContainsRune(s, 0) {
		return "", errcode.New(errcode.InvalidData, "an ID must not contain NUL characters")
	}
	return s, nil
}

// MarshalString writes the String scalar.
func MarshalString(s string) graphql.Marshaler { return graphql.MarshalString(s) }

// UnmarshalString reads the String scalar. PostgreSQL text cannot hold NUL
// characters, so they are refused here, as bad input, rather than failing
// in the database.
func UnmarshalString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errcode.New(errcode.InvalidData, "expected a string, got %T", v)
	}
	if strings.ContainsRune(s, 0) {
		return "", errcode.New(errcode.InvalidData, "strings must not contain NUL characters")
	}
	return s, nil
}
