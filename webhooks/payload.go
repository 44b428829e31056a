package webhooks

import (
	"encoding/json"
	"strings"
	"time"

	"customerservice/db"
)

// payload is a delivery's body, in the shape the Standard Webhooks
// specification suggests: the event's type, when it happened, and the
// event as the API shows it (Event in schema.graphqls).
type payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      eventData `json:"data"`
}

// eventData is an event with the API's field names and values.
type eventData struct {
	ID         string        `json:"id"`
	Type       string        `json:"type"`
	CreatedAt  time.Time     `json:"created_at"`
	ActorType  string        `json:"actor_type"`
	ActorID    *string       `json:"actor_id"`
	RequestID  *string       `json:"request_id"`
	CustomerID *string       `json:"customer_id"`
	GroupID    *string       `json:"group_id"`
	AddressID  *string       `json:"address_id"`
	OrderID    *string       `json:"order_id"`
	Changes    db.JSONObject `json:"changes"`
	Data       db.JSONObject `json:"data"`
}

// body returns the JSON a delivery of e sends. It is the same for every
// attempt: the event does not change, and encoding/json writes an object's
// keys in order.
func body(e *db.Event) ([]byte, error) {
	return json.Marshal(payload{
		Type:      e.Type,
		Timestamp: e.CreatedAt.UTC(),
		Data: eventData{
			ID:         e.ID(),
			Type:       e.Type,
			CreatedAt:  e.CreatedAt.UTC(),
			ActorType:  strings.ToUpper(string(e.ActorType)), // the EventActorType enum's values
			ActorID:    e.ActorID,
			RequestID:  e.RequestID,
			CustomerID: e.CustomerID,
			GroupID:    e.GroupID,
			AddressID:  e.AddressID,
			OrderID:    e.OrderID,
			Changes:    e.Changes,
			Data:       e.Data,
		},
	})
}
