package model

import (
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/acme/customerservice/db"
	"github.com/acme/customerservice/errcode"
)

// MaxMetadataSize bounds a metadata object, encoded as JSON.
const MaxMetadataSize = 16 << 10

// MarshalJSONObject writes the JSON scalar.
func MarshalJSONObject(o db.JSONObject) graphql.Marshaler {
	if o == nil {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) {
		b, err := json.Marshal(o)
		if err != nil {
			// Only values decoded from JSON reach here; they encode.
			b = []byte("null")
		}
		w.Write(b)
	})
}

// UnmarshalJSONObject reads the JSON scalar: a JSON object of at most
// MaxMetadataSize bytes.
func UnmarshalJSONObject(v any) (db.JSONObject, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errcode.New(errcode.InvalidData, "metadata must be a JSON object")
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, errcode.New(errcode.InvalidData, "metadata must be a JSON object")
	}
	// jsonb cannot hold NUL characters; json.Marshal writes them as \u0000.
	if strings.Contains(string(b), `\u0000`) {
		return nil, errcode.New(errcode.InvalidData, "metadata must not contain NUL characters")
	}
	if len(b) > MaxMetadataSize {
		return nil, errcode.New(errcode.InvalidData, "metadata must be at most %d KiB of JSON, got %d bytes", MaxMetadataSize>>10, len(b))
	}
	return db.JSONObject(m), nil
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
