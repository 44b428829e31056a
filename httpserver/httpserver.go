// Package httpserver is the service's HTTP surface: the GraphQL endpoint
// behind the protections a public endpoint needs (body size, transports,
// deadlines, idempotency keys), the Playground, health and readiness
// probes, and metrics.
package httpserver

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/singleflight"

	"customerservice/db"
	"customerservice/errcode"
	"customerservice/observe"
	"customerservice/playground"
)

// Defaults of Config.
const (
	DefaultMaxBody        = 1 << 20
	DefaultRequestTimeout = 10 * time.Second
)

// Config assembles the HTTP surface.
type Config struct {
	DB *sqlx.DB
	// Replicas, when set, serve reads; a request's X-Consistency-Token
	// says which writes its reads must see, and an answer to a write
	// carries the token of its writes.
	Replicas *db.Replicas
	// Probe is what /readyz pings: a pool of one connection of its own
	// (db.OpenProbe), so that a pool busy with requests does not make a
	// loaded server look broken. DB is pinged when nil.
	Probe   *sql.DB
	GraphQL http.Handler
	Logger  *slog.Logger
	// Registry receives the request metrics, which Metrics serves; none are
	// kept when nil.
	Registry *prometheus.Registry
	// Tracing makes the spans of requests (observe.NewTracing); none are
	// recorded when nil.
	Tracing trace.TracerProvider
	// PublicMetrics serves Metrics at /metrics beside the API too, for a
	// local server; in production they have a listener of their own
	// (METRICS_ADDR), since they map the service for whoever reads them.
	PublicMetrics bool
	// Production serves no Playground and no schema.
	Production bool
	// SchemaSDL is served at /graphql/schema.graphql, for code generators
	// and people, except in production.
	SchemaSDL []byte
	// MaxBody bounds request bodies (DefaultMaxBody when 0).
	MaxBody int64
	// MaxUpload bounds multipart requests (file uploads, for
	// import_customers), which are streamed to the GraphQL handler rather
	// than read here; 0 refuses them.
	MaxUpload int64
	// Exports serves GET /exports/{token}, export downloads (bulk); none
	// when nil.
	Exports http.Handler
	// RequestTimeout bounds a request, its SQL included
	// (DefaultRequestTimeout when 0).
	RequestTimeout time.Duration
	// CORSOrigins are the browser origins allowed to call /graphql ("*" for
	// any); none when empty.
	CORSOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-For is believed (see
	// ClientAddr); none when empty.
	TrustedProxies []netip.Prefix
}

// Server is the HTTP surface of one process.
type Server struct {
	cfg      Config
	draining atomic.Bool
	handler  http.Handler
	metrics  http.Handler
	// pings is the readiness ping in flight, shared by the probes that come
	// while it runs.
	pings singleflight.Group
}

// New returns the HTTP surface.
func New(cfg Config) *Server {
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Probe == nil {
		cfg.Probe = cfg.DB.DB
	}
	if cfg.Tracing == nil {
		cfg.Tracing = noop.NewTracerProvider()
	}
	s := &Server{cfg: cfg, metrics: http.NotFoundHandler()}
	var metrics *observe.Metrics
	mux := http.NewServeMux()
	if cfg.Registry != nil {
		metrics = observe.NewMetrics(cfg.Registry, cfg.DB.DB)
		s.metrics = promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})
		if cfg.PublicMetrics {
			mux.Handle("GET /metrics", s.metrics)
		}
	}
	graphql := observe.Middleware(cfg.Logger, metrics, cfg.Tracing)(
		s.recoverPanics(s.cors(s.guard(s.deadline(s.consistent(s.idempotent(s.clientAddr(cfg.GraphQL))))))))
	mux.Handle("/graphql", graphql)
	if cfg.Exports != nil {
		// Not behind the request deadline: a download of a million
		// customers takes longer, and bounds itself.
		exports := observe.Middleware(cfg.Logger, metrics, cfg.Tracing)(s.recoverPanics(cfg.Exports))
		mux.HandleFunc("GET /exports/{token}", func(w http.ResponseWriter, r *http.Request) {
			// The token is a download's authority: logs and spans show
			// the path without it. (PathValue still has it.)
			masked := *r
			u := *r.URL
			u.Path, u.RawPath = "/exports/-", ""
			masked.URL = &u
			exports.ServeHTTP(w, &masked)
		})
	}
	if !cfg.Production && cfg.SchemaSDL != nil {
		mux.HandleFunc("GET /graphql/schema.graphql", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write(cfg.SchemaSDL)
		})
	}
	if !cfg.Production {
		pg := playground.Handler("/graphql")
		mux.Handle("GET /{$}", pg)
		mux.Handle("GET /playground/", pg)
		mux.Handle("GET /favicon.ico", pg)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	s.handler = mux
	return s
}

// ServeHTTP serves the HTTP surface.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Metrics serves the Prometheus metrics, for a listener of their own.
func (s *Server) Metrics() http.Handler { return s.metrics }

// Drain makes /readyz answer 503, so load balancers stop sending requests
// while the ones in flight finish.
func (s *Server) Drain() { s.draining.Store(true) }

// readyTimeout is how long the database has to answer a readiness ping.
const readyTimeout = time.Second

// ready answers whether this process should get traffic: not while it
// drains, nor while the database does not answer a ping within
// readyTimeout.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	// One ping at a time, however often the probes come: while the
	// database is frozen, each would otherwise leave a ping waiting.
	ping := s.pings.DoChan("ping", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		return nil, s.cfg.Probe.PingContext(ctx)
	})
	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case res := <-ping:
		if res.Err == nil {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
	case <-t.C:
	case <-r.Context().Done():
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
}

// guard admits a request to the GraphQL endpoint: GET, or POST of a JSON
// body of at most MaxBody bytes holding one operation. Refusals happen
// before anything is parsed, and never echo the body.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			next.ServeHTTP(w, r)
			return
		case http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, POST")
			writeError(w, r, http.StatusMethodNotAllowed, errcode.InvalidData, "use POST with a JSON body, or GET for queries")
			return
		}
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err == nil && mt == "multipart/form-data" && s.cfg.MaxUpload > 0 {
			s.upload(next, w, r)
			return
		}
		if err != nil || mt != "application/json" {
			writeError(w, r, http.StatusUnsupportedMediaType, errcode.InvalidData, "POST bodies must be application/json")
			return
		}
		if r.ContentLength > s.cfg.MaxBody {
			writeError(w, r, http.StatusRequestEntityTooLarge, errcode.PayloadTooLarge, s.tooLarge())
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, r, http.StatusRequestEntityTooLarge, errcode.PayloadTooLarge, s.tooLarge())
			} else {
				writeError(w, r, http.StatusBadRequest, errcode.InvalidData, "the request body could not be read")
			}
			return
		}
		switch first := firstByte(body); first {
		case '{':
		case '[':
			writeError(w, r, http.StatusBadRequest, errcode.BatchNotSupported, "send one operation per request, not a JSON array of them")
			return
		default:
			writeError(w, r, http.StatusBadRequest, errcode.InvalidData, `the body must be a JSON object: {"query": "...", "variables": {...}}`)
			return
		}
		// Checked here, so gqlgen's decoder (whose errors would echo the
		// body) never fails; variables stay raw, gqlgen decodes them.
		var params struct {
			Query         string          `json:"query"`
			OperationName string          `json:"operationName"`
			Variables     json.RawMessage `json:"variables"`
			Extensions    json.RawMessage `json:"extensions"`
			// Relay sends a persisted document's id in one of these.
			DocID      string `json:"doc_id"`
			DocumentID string `json:"documentId"`
		}
		if err := json.Unmarshal(body, &params); err != nil || !objectOrNull(params.Variables) || !objectOrNull(params.Extensions) {
			writeError(w, r, http.StatusBadRequest, errcode.InvalidData,
				`the body must be {"query": string, "operationName": string, "variables": object}, with JSON types as shown`)
			return
		}
		if id := cmp.Or(params.DocID, params.DocumentID); id != "" && params.Query == "" && firstByte(params.Extensions) != '{' {
			body = withPersistedID(body, id)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// upload admits a multipart request (the GraphQL multipart request
// specification: a file upload) of at most MaxUpload bytes, which gqlgen's
// transport then streams to a temporary file. It must say its length:
// gqlgen reads a body of unknown length into memory.
func (s *Server) upload(next http.Handler, w http.ResponseWriter, r *http.Request) {
	switch {
	case r.ContentLength < 0:
		writeError(w, r, http.StatusLengthRequired, errcode.InvalidData, "an upload must have a Content-Length")
		return
	case r.ContentLength > s.cfg.MaxUpload:
		writeError(w, r, http.StatusRequestEntityTooLarge, errcode.PayloadTooLarge,
			fmt.Sprintf("the upload is larger than %d bytes (IMPORT_MAX_BYTES)", s.cfg.MaxUpload))
		return
	case r.Header.Get("Idempotency-Key") != "":
		writeError(w, r, http.StatusBadRequest, errcode.InvalidData,
			"Idempotency-Key is not taken with uploads: sending the same file again resumes its import instead")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
	next.ServeHTTP(w, r)
}

// withPersistedID returns a request body that names a persisted document
// by Relay's doc_id as Apollo's protocol does, in
// extensions.persistedQuery, which the GraphQL handler reads.
func withPersistedID(body []byte, id string) []byte {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return body
	}
	ext, err := json.Marshal(map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": id}})
	if err != nil {
		return body
	}
	fields["extensions"] = ext
	out, err := json.Marshal(fields)
	if err != nil {
		return body
	}
	return out
}

func (s *Server) tooLarge() string {
	return fmt.Sprintf("the request body is larger than %d bytes", s.cfg.MaxBody)
}

// objectOrNull reports whether raw JSON is an object, null, or absent.
func objectOrNull(raw json.RawMessage) bool {
	switch firstByte(raw) {
	case 0, '{', 'n':
		return true
	}
	return false
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}

// answerGrace is how long after its deadline a request's handler has to
// answer by itself, with the TIMEOUT its cancelled statements give, before
// the client is answered without it.
const answerGrace = 100 * time.Millisecond

// deadline bounds the request: when it passes, the context is cancelled,
// and with it any SQL statement still running. The client gets an answer
// by then even when a statement does not return (a frozen database, which
// answers neither the statement nor its cancellation): TIMEOUT, while the
// handler finishes in the background, its answer dropped.
//
// A WebSocket upgrade is let through as it is: the connection lives as long
// as its subscriptions, and streams; its operations are bounded by the
// GraphQL handler's own limits (a write timeout, pings).
func (s *Server) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebSocket(r) {
			// The HTTP server's read and write timeouts would cut the
			// socket; its keep-alive pings take their place.
			rc := http.NewResponseController(w)
			if err := errors.Join(rc.SetReadDeadline(time.Time{}), rc.SetWriteDeadline(time.Time{})); err != nil {
				s.cfg.Logger.WarnContext(r.Context(), "websocket: clear the connection's deadlines", "error", err)
			}
			next.ServeHTTP(w, r)
			return
		}
		timeout := s.cfg.RequestTimeout
		if s.cfg.MaxUpload > 0 && isUpload(r) {
			// A file upload takes the time its bytes take to arrive, past
			// the server's read timeout too.
			timeout = max(timeout, UploadTimeout)
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
			http.NewResponseController(w).SetWriteDeadline(time.Now().Add(timeout + time.Minute))
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		finished := make(chan any, 1)
		go func() {
			defer func() { finished <- recover() }()
			next.ServeHTTP(rec, r.WithContext(ctx))
		}()
		t := time.NewTimer(timeout + answerGrace)
		defer t.Stop()
		select {
		case p := <-finished:
			if p != nil {
				panic(p) // for recoverPanics, in the request's goroutine
			}
			rec.send(w, withCodes(rec.status, rec.body.Bytes()))
		case <-t.C:
			s.cfg.Logger.WarnContext(ctx, "answered at the deadline without the handler, which is still waiting",
				"deadline", s.cfg.RequestTimeout)
			writeError(w, r, http.StatusServiceUnavailable, errcode.Timeout, "The request ran past its deadline and was stopped")
		}
	})
}

// UploadTimeout bounds a file upload's request, in place of the request
// deadline: the upload arrives, is spooled and its header checked, and the
// import goes on in the background.
const UploadTimeout = 10 * time.Minute

// isUpload reports whether r is a multipart POST, a file upload.
func isUpload(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return r.Method == http.MethodPost && err == nil && mt == "multipart/form-data"
}

// isWebSocket reports whether r asks to upgrade to a WebSocket: a GET with
// Upgrade: websocket.
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// recoverPanics answers INTERNAL for a panic outside the resolvers (which
// gqlgen recovers itself), logs it with its stack, and keeps serving.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.cfg.Logger.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeError(w, r, http.StatusInternalServerError, errcode.Internal, "internal system error")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers with a GraphQL error response, as the endpoint's own
// errors look, and records its code for the request's log line and metrics.
func writeError(w http.ResponseWriter, r *http.Request, status int, code errcode.Code, message string) {
	if req := observe.RequestFrom(r.Context()); req != nil {
		req.AddErrorCode(string(code))
	}
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{
		"message":    message,
		"extensions": map[string]any{"code": string(code), "type": code.Type()},
	}}})
}

// recorder keeps a response, to send it (or another) when the handler is
// done.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

func (r *recorder) writeTo(w http.ResponseWriter) { r.send(w, r.body.Bytes()) }

// send sends the response kept, with body as its body.
func (r *recorder) send(w http.ResponseWriter, body []byte) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length") // the body may have changed
	w.WriteHeader(r.status)
	w.Write(body)
}
