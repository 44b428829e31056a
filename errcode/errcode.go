// Package errcode defines the one error type the service returns to its
// clients: a machine-readable code, Medusa's lowercase type, a message written
// for a person and, for bad input, the offending field.
//
// Every layer creates these errors; only the GraphQL error presenter turns them
// into responses. Anything that is not an *Error reaches clients as INTERNAL
// with a generic message, so driver or SQL text can never leak.
package errcode

import (
	"errors"
	"fmt"
	"time"
)

// Code is a machine-readable error class. The values match the ErrorCode enum
// of the GraphQL schema.
type Code string

// The codes of the API contract.
const (
	InvalidData    Code = "INVALID_DATA"
	NotFound       Code = "NOT_FOUND"
	DuplicateError Code = "DUPLICATE_ERROR"
	Unauthorized   Code = "UNAUTHORIZED"
	NotAllowed     Code = "NOT_ALLOWED"
	Conflict       Code = "CONFLICT"
	Internal       Code = "INTERNAL"
)

// Codes of requests refused for their shape or size before they run, and of
// requests the service could not finish.
const (
	QueryTooDeep      Code = "QUERY_TOO_DEEP"
	TooManyAliases    Code = "TOO_MANY_ALIASES"
	QueryTooLarge     Code = "QUERY_TOO_LARGE"
	QueryTooComplex   Code = "QUERY_TOO_COMPLEX"
	BatchNotSupported Code = "BATCH_NOT_SUPPORTED"
	PayloadTooLarge   Code = "PAYLOAD_TOO_LARGE"
	Timeout           Code = "TIMEOUT"
	Unavailable       Code = "SERVICE_UNAVAILABLE"
	// TooManyErrors closes an error list cut short: a hostile document can
	// make validation find thousands of faults, and listing them all would
	// cost more than the request is worth.
	TooManyErrors         Code = "TOO_MANY_ERRORS"
	RateLimited           Code = "RATE_LIMITED"
	IntrospectionDisabled Code = "INTROSPECTION_DISABLED"
	// Cancelled is a request whose client went away: it is counted and
	// logged, never seen by the client, and not a fault of the server.
	Cancelled Code = "CANCELLED"
	// PersistedQueryNotFound asks an Apollo client to send the document
	// with its hash; PersistedQueryNotInList refuses an operation outside
	// the trusted-documents manifest.
	PersistedQueryNotFound  Code = "PERSISTED_QUERY_NOT_FOUND"
	PersistedQueryNotInList Code = "PERSISTED_QUERY_NOT_IN_LIST"
)

// Codes of import files refused as a whole (package bulk), before or while
// their rows are read.
const (
	// FileNotUTF8 is a file whose text is not UTF-8 (a spreadsheet's
	// Latin-1 or UTF-16 export, say).
	FileNotUTF8 Code = "FILE_NOT_UTF8"
	// FileHeaderMissing is a CSV file without the header line, or an empty
	// file.
	FileHeaderMissing Code = "FILE_HEADER_MISSING"
	// FileUnknownColumn is a CSV header or JSON Lines key the import does
	// not know.
	FileUnknownColumn Code = "FILE_UNKNOWN_COLUMN"
	// FileMalformed is a file that is not CSV or JSON Lines: a quote left
	// open, a line that is not a JSON object.
	FileMalformed Code = "FILE_MALFORMED"
)

// Type returns Medusa's lowercase name for the code ("invalid_data", ...),
// which clients written against Medusa switch on.
func (c Code) Type() string {
	switch c {
	case InvalidData, QueryTooDeep, TooManyAliases, QueryTooLarge, QueryTooComplex, BatchNotSupported, PayloadTooLarge, TooManyErrors,
		PersistedQueryNotFound, FileNotUTF8, FileHeaderMissing, FileUnknownColumn, FileMalformed:
		return "invalid_data"
	case NotFound:
		return "not_found"
	case DuplicateError:
		return "duplicate_error"
	case Unauthorized:
		return "unauthorized"
	case NotAllowed, RateLimited, IntrospectionDisabled, PersistedQueryNotInList:
		return "not_allowed"
	case Conflict:
		return "conflict"
	case Timeout, Cancelled:
		return "unexpected_state"
	case Unavailable:
		return "database_error"
	default:
		return "unknown_error"
	}
}

// Error is an error a client may see.
type Error struct {
	Code    Code
	Message string
	// Field names the input field at fault, when there is one
	// ("input.email", "limit").
	Field string
	// RetryAfter is how long a RATE_LIMITED client should wait before it
	// tries again; clients see it as extensions.retry_after, in seconds.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// New returns an error with the given code and a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an INVALID_DATA error about one input field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: InvalidData, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Limited returns a RATE_LIMITED error that tells the client to wait
// retryAfter before trying again.
func Limited(retryAfter time.Duration, format string, args ...any) *Error {
	return &Error{Code: RateLimited, RetryAfter: retryAfter, Message: fmt.Sprintf(format, args...)}
}

// RetryAfterSeconds is d in whole seconds, rounded up and at least 1: a
// client told to wait 0 seconds would try again at once and be refused.
func RetryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// Of returns the code of err: the code of the first *Error in its chain, or
// Internal when there is none.
func Of(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return Internal
}
