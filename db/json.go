package db

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
