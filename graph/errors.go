package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/acme/customerservice/errcode"
)

// internalMessage is all a client learns of an unexpected failure.
const internalMessage = "An internal error occurred; it has been logged."

// presentError is the one place errors become GraphQL errors. Every error
// leaves with extensions.code (an ErrorCode) and extensions.type (Medusa's
// name for it); an error that is not an *errcode.Error is logged with its
// cause and reaches the client as INTERNAL with a generic message, so SQL
// and driver text never leak.
func presentError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var e *errcode.Error
		switch {
		case errors.As(err, &e):
			gqlErr.Message = e.Message
			setCode(gqlErr, e.Code)
			if e.Field != "" {
				gqlErr.Extensions["field"] = e.Field
			}
		case isRequestError(gqlErr):
			// gqlgen's own parse and validation errors: the request is at
			// fault, and the message says how.
			gqlErr.Extensions["reason"] = gqlErr.Extensions["code"]
			setCode(gqlErr, errcode.InvalidData)
		default:
			logger.ErrorContext(ctx, "internal error", "error", err, "path", gqlErr.Path.String())
			gqlErr.Message = internalMessage
			setCode(gqlErr, errcode.Internal)
		}
		return gqlErr
	}
}

func setCode(gqlErr *gqlerror.Error, code errcode.Code) {
	if gqlErr.Extensions == nil {
		gqlErr.Extensions = map[string]any{}
	}
	gqlErr.Extensions["code"] = string(code)
	gqlErr.Extensions["type"] = code.Type()
}

// isRequestError reports whether gqlgen raised gqlErr itself because the
// request was malformed: parse and validation errors carry a GRAPHQL_* code
// and wrap nothing.
func isRequestError(gqlErr *gqlerror.Error) bool {
	_, coded := gqlErr.Extensions["code"]
	return gqlErr.Err == nil && coded
}
