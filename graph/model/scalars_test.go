package model_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/acme/customerservice/graph/model"
)

// FuzzScalars feeds arbitrary JSON values to the custom scalars: they
// accept or refuse, never panic, and what they accept is what PostgreSQL
// can store.
func FuzzScalars(f *testing.F) {
	for _, seed := range []string{`"2024-05-01T12:00:00Z"`, `{"a": 1}`, `"cus_01ARZ3NDEKTSV4RRFFQ69G5FAV"`, `12`, `null`, `[1]`, `"\u0000"`, `{"\u0000": 1}`, `"9999-12-31T23:59:59.999999999+14:00"`} {
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
		if o, err := model.UnmarshalJSONObject(v); err == nil {
			b, err := json.Marshal(o)
			if err != nil || len(b) > model.MaxMetadataSize {
				t.Errorf("accepted metadata that does not fit: %d bytes, %v", len(b), err)
			}
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
