package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/jmoiron/sqlx"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/acme/customerservice/auth"
)

// Options configure the GraphQL handler.
type Options struct {
	// Auth runs the account flows and verifies tokens; required.
	Auth   *auth.Service
	Logger *slog.Logger
	// LoaderWait is how long loaders collect keys; DefaultLoaderWait when 0.
	LoaderWait time.Duration
}

// NewHandler returns the GraphQL endpoint (POST and GET) serving the
// schema from pool, acting as the actor of each request's bearer token.
func NewHandler(pool *sqlx.DB, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LoaderWait == 0 {
		opts.LoaderWait = DefaultLoaderWait
	}
	srv := handler.New(NewExecutableSchema(Config{
		Resolvers:  &Resolver{DB: pool, Auth: opts.Auth},
		Directives: DirectiveRoot{Auth: authDirective},
	}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(extension.Introspection{})
	srv.SetErrorPresenter(presentError(opts.Logger))
	srv.SetRecoverFunc(recoverPanic(opts.Logger))
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(WithLoaders(ctx, NewLoaders(pool, opts.LoaderWait)))
	})
	return opts.Auth.Tokens.Middleware(srv)
}

// recoverPanic logs a resolver's panic with its stack; the client gets
// INTERNAL, and the server goes on.
func recoverPanic(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errors.New("internal system error")
	}
}
