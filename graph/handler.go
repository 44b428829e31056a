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
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/jmoiron/sqlx"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"customerservice/auth"
	"customerservice/bulk"
	"customerservice/db"
	"customerservice/errcode"
	"customerservice/lifecycle"
	"customerservice/live"
	"customerservice/observe"
	"customerservice/ordering"
	"customerservice/webhooks"
)

// Options configure the GraphQL handler.
type Options struct {
	// Auth runs the account flows and verifies tokens; required.
	Auth *auth.Service
	// Webhooks runs the webhook flows. Without it, creating an endpoint or
	// changing its URL or secret fails with INTERNAL.
	Webhooks *webhooks.Service
	// Lifecycle runs the account lifecycle (merges, exports, erasures,
	// account deletions); one with the default grace period when nil.
	Lifecycle *lifecycle.Service
	Logger    *slog.Logger
	// LoaderWait is how long loaders collect keys; DefaultLoaderWait when 0.
	LoaderWait time.Duration
	// Limits bound query shapes; DefaultLimits when zero.
	Limits Limits
	// Production turns off introspection and "did you mean" suggestions,
	// which map the schema for an attacker.
	Production bool
	// TrustedDocuments, when not nil, are the only documents the server
	// runs, by id (see ParseManifest); without it, clients may persist
	// queries automatically (Apollo's protocol).
	TrustedDocuments map[string]string
	// Hub delivers the event log to subscriptions, which the endpoint
	// serves over WebSocket; without it, it serves none.
	Hub *live.Hub
	// Sockets bound the WebSocket connections; DefaultSocketLimits when
	// zero.
	Sockets SocketLimits
	// Bulk runs customer imports and exports; without one, a service on
	// the pool without export links (export_customers fails INTERNAL).
	Bulk *bulk.Service
	// MaxUpload bounds a file upload (import_customers);
	// DefaultMaxUpload when 0.
	MaxUpload int64
	// OnSockets, when not nil, is told how many WebSocket connections are
	// open whenever that changes (the server makes room for their memory).
	OnSockets func(open int)
	// Replicas, when not nil, serve queries that need not see a write
	// newer than the replica has replayed (the request's consistency
	// token, db.Consistency); the others, and every mutation, run on pool.
	Replicas *db.Replicas
}

// NewHandler returns the GraphQL endpoint (POST and GET, and WebSocket for
// subscriptions) serving the schema from pool, acting as the actor of each
// request's bearer token, or of a WebSocket's connection_init.
func NewHandler(pool *sqlx.DB, opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Webhooks == nil {
		opts.Webhooks = &webhooks.Service{DB: pool}
	}
	if opts.Lifecycle == nil {
		opts.Lifecycle = &lifecycle.Service{DB: pool}
	}
	if opts.Bulk == nil {
		opts.Bulk = &bulk.Service{DB: pool, Logger: opts.Logger}
	}
	if opts.MaxUpload == 0 {
		opts.MaxUpload = DefaultMaxUpload
	}
	if opts.LoaderWait == 0 {
		opts.LoaderWait = DefaultLoaderWait
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits()
	}
	if opts.Sockets == (SocketLimits{}) {
		opts.Sockets = DefaultSocketLimits()
	}
	present := presentError(opts.Logger)
	schema := NewExecutableSchema(Config{
		Schema: servedSchema(),
		Resolvers: newResolvers(&Resolver{DB: pool, Auth: opts.Auth, Ordering: &ordering.Service{DB: pool}, Webhooks: opts.Webhooks,
			Lifecycle: opts.Lifecycle, Bulk: opts.Bulk, Hub: opts.Hub, present: present}),
		Directives: DirectiveRoot{Auth: authDirective},
		Complexity: listComplexity(),
	})
	srv := handler.New(schema)
	// GET serves queries only: gqlgen refuses mutations over GET, which a
	// link or an image tag could otherwise trigger.
	srv.AddTransport(get{})
	srv.AddTransport(post{})
	// File uploads (import_customers), which httpserver bounds: files
	// above 1 MiB are spooled to disk, not held in memory.
	srv.AddTransport(transport.MultipartForm{MaxUploadSize: opts.MaxUpload, MaxMemory: 1 << 20})
	sockets := newSockets(opts.Sockets, opts.Auth, opts.Hub, opts.Logger)
	sockets.onOpen = opts.OnSockets
	srv.AddTransport(wsTransport{sockets.transport()})
	validated := newBoundedCache(documentCacheBudget, func(query string, _ *ast.QueryDocument) int { return 32*len(query) + 1024 })
	srv.SetQueryCache(validated)
	srv.SetParserTokenLimit(opts.Limits.Tokens)
	// Suggestions are cut by the rules themselves: gqlgen's switch covers
	// two of the rules that make them.
	srv.SetValidationRulesFn(validationRules(schema.Schema(), opts.Production))
	if !opts.Production {
		srv.Use(extension.Introspection{})
	}
	// Documents sent by id are resolved first: the budget measures the
	// document that would run.
	srv.Use(newPersisted(opts.TrustedDocuments))
	srv.Use(&documentBudget{limits: opts.Limits, validated: validated, production: opts.Production})
	srv.Use(&queryLimits{limits: opts.Limits})
	srv.Use(transportRule{})
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(recoverPanic(opts.Logger))
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		opCtx := graphql.GetOperationContext(ctx)
		if r := observe.RequestFrom(ctx); r != nil {
			r.SetOperation(operationName(opCtx))
		}
		ctx, span := operationSpan(ctx, opCtx)
		subscription := opCtx.Operation != nil && opCtx.Operation.Operation == ast.Subscription
		ctx = routeReads(ctx, opCtx.Operation, opts.Replicas)
		if !subscription {
			// A subscription's events have no relations to load, and it
			// lives long: loaders would only hold memory.
			ctx = WithLoaders(ctx, NewLoaders(db.Conn(ctx, pool), opts.LoaderWait, columnsOf(opCtx.Operation), opts.Logger))
		}
		respond := next(ctx)
		// The operation runs when its answer is asked for, after this
		// returns; its span ends with the answer (one, for a query or a
		// mutation, the last, nil, for a subscription).
		return func(ctx context.Context) *graphql.Response {
			resp := respond(ctx)
			if resp != nil && len(resp.Errors) > 0 {
				span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
			}
			if resp == nil || !subscription {
				span.End()
			}
			return resp
		}
	})
	// A mutation field that fails in a shared transaction (an
	// Idempotency-Key request) is undone alone, as its own transaction
	// would be, and the request's answer is kept with its error.
	srv.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) (out graphql.Marshaler) {
		if graphql.GetOperationContext(ctx).Operation.Operation != ast.Mutation {
			return next(ctx)
		}
		ctx = db.WithEventActor(ctx, eventActor(ctx))
		db.InRequestSavepoint(ctx, func() { out = next(ctx) })
		return out
	})
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		// 20 errors are listed; a 21st is replaced by the TOO_MANY_ERRORS
		// that says the list was cut, as validation does.
		if resp != nil && len(resp.Errors) > MaxErrors {
			resp.Errors = append(resp.Errors[:MaxErrors:MaxErrors], tooManyErrorsError())
		}
		if r := observe.RequestFrom(ctx); r != nil && resp != nil {
			for _, e := range resp.Errors {
				code, _ := e.Extensions["code"].(string)
				r.AddErrorCode(code)
			}
		}
		return resp
	})
	httpRequests := opts.Auth.Middleware(srv)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) {
			// A WebSocket's token comes in connection_init, not in a
			// header.
			sockets.serve(srv, w, r)
			return
		}
		if r.Header.Get("Upgrade") != "" {
			// Another protocol (h2c, which curl --http2 asks for): the
			// server may ignore it (RFC 9110, 7.8) and answer in HTTP/1.1,
			// where gqlgen would refuse the request.
			r.Header.Del("Upgrade")
		}
		httpRequests.ServeHTTP(w, r)
	})
}

// operationSpan starts the span of a GraphQL operation, a child of the
// request's, named by the operation's type and name as the client gave it
// ("query AdminCustomerList"), or by its first field when it has none.
// When the request is not traced, it costs nothing.
func operationSpan(ctx context.Context, opCtx *graphql.OperationContext) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	name := operationName(opCtx)
	if opCtx.Operation.Name != "" {
		name = string(opCtx.Operation.Operation) + " " + opCtx.Operation.Name
	}
	return parent.TracerProvider().Tracer("customerservice/graph").Start(ctx, name,
		trace.WithAttributes(attribute.String("graphql.operation.type", string(opCtx.Operation.Operation)),
			attribute.String("graphql.operation.name", opCtx.Operation.Name)))
}

// tooManyErrorsError ends an error list cut at MaxErrors.
func tooManyErrorsError() *gqlerror.Error {
	err := gqlerror.Errorf("More than %d errors; the rest are not reported.", MaxErrors)
	setCode(err, errcode.TooManyErrors)
	return err
}

// operationName names an operation for logs and metrics by its type and
// first root field ("query customers"): a set the schema bounds, unlike
// client-chosen operation names.
func operationName(opCtx *graphql.OperationContext) string {
	if opCtx == nil || opCtx.Operation == nil {
		return "invalid"
	}
	for _, sel := range opCtx.Operation.SelectionSet {
		if f, ok := sel.(*ast.Field); ok {
			return string(opCtx.Operation.Operation) + " " + f.Name
		}
	}
	return string(opCtx.Operation.Operation)
}

// recoverPanic logs a resolver's panic with its stack; the client gets
// INTERNAL, and the server goes on.
func recoverPanic(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errors.New("internal system error")
	}
}

// routeReads sends a query's statements to a replica that has replayed the
// writes its client has seen, when there is one, and marks a mutation as
// a write, whose answer then carries the token of its writes.
func routeReads(ctx context.Context, op *ast.OperationDefinition, replicas *db.Replicas) context.Context {
	if op == nil {
		return ctx
	}
	switch op.Operation {
	case ast.Mutation:
		db.MarkWrite(ctx)
	case ast.Query:
		var min db.LSN
		if c := db.ConsistencyFrom(ctx); c != nil {
			min = c.Min
		}
		if reader := replicas.Reader(min); reader != nil {
			return db.WithReader(ctx, reader)
		}
	}
	return ctx
}
