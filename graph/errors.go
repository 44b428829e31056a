package graph

import (
	"context"
	"errors"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"customerservice/db"
	"customerservice/errcode"
)

// internalMessage is all a client learns of an unexpected failure.
const internalMessage = "internal system error"

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
			if e.Code == errcode.RateLimited {
				gqlErr.Extensions["retry_after"] = errcode.RetryAfterSeconds(e.RetryAfter)
			}
		case isRequestError(gqlErr):
			// gqlgen's own parse and validation errors, and the limits':
			// the request is at fault, and the message says how.
			code := requestErrorCode(gqlErr)
			if code == errcode.InvalidData {
				gqlErr.Extensions["reason"] = gqlErr.Extensions["code"]
			}
			delete(gqlErr.Extensions, limitKey)
			setCode(gqlErr, code)
		case errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled):
			// The client went away: nothing of ours failed, and nobody
			// reads the answer; the code is for the log line and metrics.
			gqlErr.Message = "The request was cancelled by its client"
			setCode(gqlErr, errcode.Cancelled)
		case db.TimedOut(err):
			gqlErr.Message = "The request ran past its deadline and was stopped"
			setCode(gqlErr, errcode.Timeout)
		case db.Unavailable(err):
			logger.WarnContext(ctx, "database unavailable", "error", err, "path", gqlErr.Path.String())
			gqlErr.Message = "The database is unavailable; retry shortly"
			setCode(gqlErr, errcode.Unavailable)
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
