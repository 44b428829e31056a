package errcode_test

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"customerservice/errcode"
)

// types is Medusa's type for every code of the API, as clients written
// against Medusa switch on them.
var types = map[errcode.Code]string{
	errcode.InvalidData:             "invalid_data",
	errcode.QueryTooDeep:            "invalid_data",
	errcode.TooManyAliases:          "invalid_data",
	errcode.QueryTooLarge:           "invalid_data",
	errcode.QueryTooComplex:         "invalid_data",
	errcode.BatchNotSupported:       "invalid_data",
	errcode.PayloadTooLarge:         "invalid_data",
	errcode.TooManyErrors:           "invalid_data",
	errcode.NotFound:                "not_found",
	errcode.DuplicateError:          "duplicate_error",
	errcode.Unauthorized:            "unauthorized",
	errcode.NotAllowed:              "not_allowed",
	errcode.RateLimited:             "not_allowed",
	errcode.IntrospectionDisabled:   "not_allowed",
	errcode.PersistedQueryNotFound:  "invalid_data",
	errcode.PersistedQueryNotInList: "not_allowed",
	errcode.FileNotUTF8:             "invalid_data",
	errcode.FileHeaderMissing:       "invalid_data",
	errcode.FileUnknownColumn:       "invalid_data",
	errcode.FileMalformed:           "invalid_data",
	errcode.Conflict:                "conflict",
	errcode.Timeout:                 "unexpected_state",
	errcode.Cancelled:               "unexpected_state",
	errcode.Unavailable:             "database_error",
	errcode.Internal:                "unknown_error",
}

func TestTypeOfEveryCode(t *testing.T) {
	t.Parallel()
	for code, want := range types {
		if got := code.Type(); got != want {
			t.Errorf("%s.Type() = %q, want %q", code, got, want)
		}
	}
	if got := errcode.Code("SOMETHING_NEW").Type(); got != "unknown_error" {
		t.Errorf("an unknown code's type = %q", got)
	}
}

// The codes are the schema's ErrorCode enum, no more and no fewer: a code
// the server answers with is one a client can switch on.
func TestCodesAreTheSchemaEnum(t *testing.T) {
	t.Parallel()
	schema, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)enum ErrorCode \{(.*?)\}`).FindSubmatch(schema)
	if block == nil {
		t.Fatal("schema.graphqls has no ErrorCode enum")
	}
	var enum []string
	for _, line := range strings.Split(string(block[1]), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, `"`) {
			enum = append(enum, strings.Fields(line)[0])
		}
	}
	var codes []string
	for c := range types {
		codes = append(codes, string(c))
	}
	slices.Sort(enum)
	slices.Sort(codes)
	if !slices.Equal(enum, codes) {
		t.Errorf("schema enum %v\ncodes       %v", enum, codes)
	}
}

func TestOf(t *testing.T) {
	t.Parallel()
	notFound := errcode.New(errcode.NotFound, "Customer with id: %s was not found", "cus_1")
	if notFound.Error() != "Customer with id: cus_1 was not found" {
		t.Errorf("message %q", notFound.Error())
	}
	for _, tt := range []struct {
		name string
		err  error
		want errcode.Code
	}{
		{"an *Error", notFound, errcode.NotFound},
		{"wrapped", fmt.Errorf("load: %w", notFound), errcode.NotFound},
		{"joined after another", errors.Join(errors.New("plain"), errcode.Invalid("limit", "bad")), errcode.InvalidData},
		{"the first in the chain", fmt.Errorf("%w", &errcode.Error{Code: errcode.Conflict, Message: "x"}), errcode.Conflict},
		{"a plain error", errors.New("pq: relation does not exist"), errcode.Internal},
		{"nil", nil, errcode.Internal},
	} {
		if got := errcode.Of(tt.err); got != tt.want {
			t.Errorf("%s: Of = %s, want %s", tt.name, got, tt.want)
		}
	}
	inv := errcode.Invalid("input.email", "email %q is not valid", "x")
	if inv.Code != errcode.InvalidData || inv.Field != "input.email" || inv.Message != `email "x" is not valid` {
		t.Errorf("Invalid: %+v", inv)
	}
}

// retry_after is whole seconds, rounded up, at least 1: a client told 0
// would retry at once and be refused again.
func TestLimitedAndRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    time.Duration
		want int
	}{
		{-time.Second, 1},
		{0, 1},
		{time.Nanosecond, 1},
		{time.Second - time.Nanosecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{2 * time.Second, 2},
		{900 * time.Second, 900},
		{900*time.Second + time.Millisecond, 901},
	} {
		if got := errcode.RetryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
	e := errcode.Limited(90*time.Second, "Too many login attempts; try again in %d seconds", 90)
	if e.Code != errcode.RateLimited || e.RetryAfter != 90*time.Second || e.Message != "Too many login attempts; try again in 90 seconds" {
		t.Errorf("Limited: %+v", e)
	}
}
