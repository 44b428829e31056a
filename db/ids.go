package db

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/oklog/ulid/v2"
)

// The ID prefixes Medusa uses, followed by a ULID: sortable by creation time,
// unguessable, and recognisable in logs.
const (
	PrefixCustomer     = "cus_"
	PrefixGroup        = "cusgroup_"
	PrefixAddress      = "cuaddr_"
	PrefixOrder        = "order_"
	PrefixLineItem     = "ordli_"
	PrefixTransfer     = "ordtr_"
	PrefixUser         = "user_"
	PrefixIdentity     = "authid_"
	PrefixNotification = "noti_"
	PrefixResetRequest = "pwreq_"
	PrefixWebhook      = "wh_"
	PrefixSession      = "sess_"
	PrefixMerge        = "cmerge_"
	PrefixDeletion     = "acdel_"
	// PrefixDelivery is made in SQL, by the trigger that writes deliveries
	// (webhook_delivery_id), as Standard Webhooks' message ids are.
	PrefixDelivery = "msg_"
)

// NewID returns a new ID with the given prefix.
func NewID(prefix string) string {
	return prefix + ulid.Make().String()
}

func hashString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
