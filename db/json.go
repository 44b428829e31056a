package db

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// JSONObject is a jsonb column holding a JSON object, such as metadata. A
// nil JSONObject is SQL NULL.
type JSONObject map[string]any

// Scan implements sql.Scanner.
func (o *JSONObject) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*o = nil
		return nil
	case []byte:
		return json.Unmarshal(v, o)
	case string:
		return json.Unmarshal([]byte(v), o)
	}
	return fmt.Errorf("db: cannot scan %T into JSONObject", src)
}

// Value implements driver.Valuer.
func (o JSONObject) Value() (driver.Value, error) {
	if o == nil {
		return nil, nil
	}
	return json.Marshal(o)
}
