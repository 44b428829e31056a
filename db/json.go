package db

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"customerservice/errcode"
)

// JSONObject is a jsonb column holding a JSON object, such as metadata. A
// nil JSONObject is SQL NULL. Its numbers are json.Number: jsonb keeps them
// exact (as numeric), and so must the round trip through Go, where a
// float64 would keep about 17 significant digits.
type JSONObject map[string]any

// Scan implements sql.Scanner.
func (o *JSONObject) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*o = nil
		return nil
	case []byte:
		return o.decode(v)
	case string:
		return o.decode([]byte(v))
	}
	return fmt.Errorf("db: cannot scan %T into JSONObject", src)
}

func (o *JSONObject) decode(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m JSONObject
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("db: scan JSONObject: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("db: scan JSONObject: data after the object")
	}
	*o = m
	return nil
}

// Value implements driver.Valuer.
func (o JSONObject) Value() (driver.Value, error) {
	if o == nil {
		return nil, nil
	}
	// Text, not []byte: behind a transaction pooler parameters go in
	// binary_parameters mode, where []byte is sent as binary, which jsonb
	// reads with a version byte first.
	b, err := json.Marshal(o)
	return string(b), err
}

// MaxMetadataSize bounds a metadata object, encoded as JSON.
const MaxMetadataSize = 16 << 10

// CleanMetadata checks a metadata object as every writer of one must: at
// most MaxMetadataSize bytes of JSON, without NUL characters (jsonb cannot
// hold them). field names it in errors. Returns INVALID_DATA.
func CleanMetadata(field string, m map[string]any) (JSONObject, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, errcode.Invalid(field, "%s must be a JSON object", field)
	}
	// json.Marshal writes NUL as \u0000.
	if bytes.Contains(b, []byte(`\u0000`)) {
		return nil, errcode.Invalid(field, "%s must not contain NUL characters", field)
	}
	if len(b) > MaxMetadataSize {
		return nil, errcode.Invalid(field, "%s must be at most %d KiB of JSON, got %d bytes", field, MaxMetadataSize>>10, len(b))
	}
	return JSONObject(m), nil
}
