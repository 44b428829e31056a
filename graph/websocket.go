package graph

// Subscriptions travel over a WebSocket at /graphql, in the
// graphql-transport-ws protocol (gqlgen's transport.Websocket; the graphql-ws
// npm client's protocol). This file is the connection: who it acts as
// (connection_init's token, checked as an HTTP request's is, and again
// whenever an event could have revoked it), its limits, and its writes,
// which give up on a peer that does not read.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/errcode"
	"customerservice/live"
)

// SocketLimits bound the WebSocket connections and their subscriptions.
type SocketLimits struct {
	// PerConnection is how many subscriptions one connection may run.
	PerConnection int
	// PerActor is how many connections one actor (an admin user or a
	// customer, whatever tokens they use) may hold open on a server.
	PerActor int
	// KeepAlive is how often the server pings; a peer that has not
	// answered after two pings is disconnected.
	KeepAlive time.Duration
	// InitTimeout is how long a new connection has to send connection_init.
	InitTimeout time.Duration
	// WriteTimeout is how long a message may take to leave: a peer that
	// reads slower is disconnected, so its messages are never queued
	// without bound.
	WriteTimeout time.Duration
	// Recheck is how often a connection's token is checked again when no
	// event told of a change (a backstop: password resets, unlinked and
	// deleted accounts are checked when their events pass).
	Recheck time.Duration
	// MessageBytes bounds a message from the client (its subscribe
	// document included).
	MessageBytes int64
}

// DefaultSocketLimits returns the limits of the local default and of
// production.
func DefaultSocketLimits() SocketLimits {
	return SocketLimits{PerConnection: 10, PerActor: 20, KeepAlive: 15 * time.Second, InitTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, Recheck: time.Minute, MessageBytes: 64 << 10}
}

// The close codes of the graphql-transport-ws protocol a server sends.
const (
	// closeForbidden refuses connection_init, and ends a connection whose
	// token stopped standing.
	closeForbidden = 4403
	// closeTooMany refuses a connection past SocketLimits.PerActor.
	closeTooMany = 4429
	// closeTryAgain refuses connection_init when the token could not be
	// checked.
	closeTryAgain = 1013
	// closeGoingAway ends the connections of a server that shuts down;
	// clients connect again, to another.
	closeGoingAway = 1001
)

// sockets are a server's WebSocket connections, by actor.
type sockets struct {
	limits SocketLimits
	auth   *auth.Service
	hub    *live.Hub
	logger *slog.Logger
	// onOpen, when not nil, is told how many connections are open when
	// that changes.
	onOpen  func(int)
	mu      sync.Mutex
	byActor map[string]map[*socket]struct{}
	open    int
	closed  bool
}

func newSockets(limits SocketLimits, svc *auth.Service, hub *live.Hub, logger *slog.Logger) *sockets {
	s := &sockets{limits: limits, auth: svc, hub: hub, logger: logger, byActor: map[string]map[*socket]struct{}{}}
	if hub != nil {
		hub.Watch(s.revoking)
		hub.OnStop(s.closeAll)
	}
	return s
}

// socket is one WebSocket connection.
type socket struct {
	set  *sockets
	conn *socketConn
	// Set by connection_init.
	actor  auth.Actor
	key    string
	cancel context.CancelFunc
	mu     sync.Mutex
	// expiry ends the connection with its token; check checks the token
	// again every SocketLimits.Recheck.
	expiry, check *time.Timer
	subs          int
	released      bool
}

type socketKey struct{}

// socketFrom returns the WebSocket connection an operation came over, nil
// for an HTTP request.
func socketFrom(ctx context.Context) *socket {
	s, _ := ctx.Value(socketKey{}).(*socket)
	return s
}

// isUpgrade reports whether r asks for a WebSocket.
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// serve serves an upgrade request with gqlgen's handler, which accepts
// the WebSocket and returns when it closes.
func (set *sockets) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	// gqlgen would answer a broken handshake after coder/websocket has
	// answered it already, both without a code: it is refused here.
	if status, problem := handshakeProblem(r); problem != "" {
		refuseUpgrade(w, status, problem)
		return
	}
	s := &socket{set: set}
	defer s.release()
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), socketKey{}, s)))
}

// handshakeProblem says what makes r no WebSocket handshake (RFC 6455,
// 4.2.1), and the status to answer with; "" when it is one.
func handshakeProblem(r *http.Request) (int, string) {
	switch {
	case r.Method != http.MethodGet:
		return http.StatusMethodNotAllowed, "a WebSocket handshake is a GET"
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return http.StatusBadRequest, `a WebSocket handshake needs "Connection: Upgrade"`
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return http.StatusUpgradeRequired, "this server speaks WebSocket version 13 (Sec-WebSocket-Version: 13)"
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return http.StatusBadRequest, "a WebSocket handshake needs a Sec-WebSocket-Key"
	}
	return 0, ""
}

// headerHasToken reports whether a comma-separated header holds token, in
// any case.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// refuseUpgrade answers a broken handshake as the endpoint answers its
// other refusals: a GraphQL error with a code.
func refuseUpgrade(w http.ResponseWriter, status int, message string) {
	if status == http.StatusUpgradeRequired {
		w.Header().Set("Sec-WebSocket-Version", "13")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
		"message": message, "extensions": map[string]any{"code": errcode.InvalidData, "type": errcode.InvalidData.Type()},
	}}})
}

// transport returns the WebSocket transport.
func (set *sockets) transport() transport.Websocket {
	limit := set.limits.MessageBytes
	return transport.Websocket{
		Implementation: acceptor{writeTimeout: set.limits.WriteTimeout},
		InitFunc:       set.init,
		InitTimeout:    set.limits.InitTimeout,
		// The server pings; a peer that stops answering is closed after
		// two intervals, so a vanished client holds nothing for long.
		PingPongInterval: set.limits.KeepAlive,
		// The older subscriptions-transport-ws protocol has keep-alive
		// messages, but no answer to them.
		KeepAlivePingInterval: set.limits.KeepAlive,
		PayloadReadLimit:      &limit,
		ErrorFunc: func(ctx context.Context, err error) {
			set.logger.DebugContext(ctx, "websocket", "error", err)
		},
	}
}

// init answers connection_init: the token must stand, and its actor have
// fewer than PerActor connections here. A refusal closes the connection
// with 4403 (or 4429 past the limit) and says why.
func (set *sockets) init(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	s := socketFrom(ctx)
	if s == nil {
		return ctx, nil, errors.New("no socket")
	}
	ctx, actor, expires, err := set.auth.Authenticate(ctx, payload.Authorization())
	var refusal *errcode.Error
	switch {
	case errors.As(err, &refusal):
		return refuse(ctx, closeForbidden, "Forbidden: "+refusal.Message), nil, err
	case err != nil:
		// No verdict on the token (the database is away): the client may
		// try again, which 1013 tells it.
		set.logger.WarnContext(ctx, "websocket: the token could not be checked", "error", err)
		return refuse(ctx, closeTryAgain, "The token could not be checked; try again shortly"), nil, err
	}
	if actor.ID == "" {
		err := errcode.New(errcode.NotAllowed, "This token's identity has no account yet")
		return refuse(ctx, closeForbidden, "Forbidden: "+err.Message), nil, err
	}
	s.actor, s.key = actor, string(actor.Type)+":"+actor.ID
	// Ready to be ended before it is registered: a revocation may find it
	// the moment it is.
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	if !set.register(s) {
		cancel()
		err := errcode.Limited(time.Second, "Too many connections: at most %d per account", set.limits.PerActor)
		return refuse(ctx, closeTooMany, err.Message), nil, err
	}
	s.mu.Lock()
	if !s.released {
		s.expiry = time.AfterFunc(time.Until(expires), func() { s.revoke("Forbidden: the token expired") })
		s.check = time.AfterFunc(set.limits.Recheck, s.recheck)
	}
	s.mu.Unlock()
	return ctx, nil, nil
}

// refuse makes the transport close the connection with code and reason.
func refuse(ctx context.Context, code int, reason string) context.Context {
	return transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, closeReason(reason)), code)
}

// closeReason fits a reason into a close frame, which holds 123 bytes.
func closeReason(reason string) string {
	if len(reason) <= 123 {
		return reason
	}
	cut := 120
	for cut > 0 && reason[cut]&0xC0 == 0x80 {
		cut--
	}
	return reason[:cut] + "..."
}

// register counts s among its actor's connections, unless it has
// PerActor already or the server is shutting down.
func (set *sockets) register(s *socket) bool {
	set.mu.Lock()
	conns := set.byActor[s.key]
	if set.closed || len(conns) >= set.limits.PerActor {
		set.mu.Unlock()
		return false
	}
	if conns == nil {
		conns = map[*socket]struct{}{}
		set.byActor[s.key] = conns
	}
	conns[s] = struct{}{}
	set.open++
	open := set.open
	set.mu.Unlock()
	if set.hub != nil {
		set.hub.Metrics().Connections.Inc()
	}
	if set.onOpen != nil {
		set.onOpen(open)
	}
	return true
}

// release forgets a connection that closed.
func (s *socket) release() {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return
	}
	s.released = true
	if s.expiry != nil {
		s.expiry.Stop()
		s.check.Stop()
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	set := s.set
	set.mu.Lock()
	conns := set.byActor[s.key]
	if _, ok := conns[s]; !ok {
		set.mu.Unlock()
		return
	}
	delete(conns, s)
	if len(conns) == 0 {
		delete(set.byActor, s.key)
	}
	set.open--
	open := set.open
	set.mu.Unlock()
	if set.hub != nil {
		set.hub.Metrics().Connections.Dec()
	}
	if set.onOpen != nil {
		set.onOpen(open)
	}
}

// revocations are the events after which a token may no longer stand: a
// password reset or change ends its identity's tokens, a revoked session
// (logout) its own, and a customer unlinked or deleted its own.
var revocations = map[string]bool{
	"auth.password_reset_completed": true,
	"auth.password_changed":         true,
	"auth.session_revoked":          true,
	"auth.customer_unlinked":        true,
	"customer.deleted":              true,
}

// revoking checks again the tokens of the connections an event concerns.
// It runs on the hub's goroutine, so the checks run on their own.
func (set *sockets) revoking(e *db.Event) {
	if !revocations[e.Type] {
		return
	}
	set.mu.Lock()
	var affected []*socket
	for _, conns := range set.byActor {
		for s := range conns {
			if e.IdentityID != nil && s.actor.IdentityID == *e.IdentityID ||
				e.CustomerID != nil && s.actor.Type == auth.Customer && s.actor.ID == *e.CustomerID {
				affected = append(affected, s)
			}
		}
	}
	set.mu.Unlock()
	for _, s := range affected {
		go s.recheck()
	}
}

// recheck checks again that the connection's token stands, ending the
// connection when it does not, and schedules the next check.
func (s *socket) recheck() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.set.auth.StillStands(ctx, s.actor)
	if errcode.Of(err) == errcode.Unauthorized {
		s.revoke("Forbidden: " + err.Error())
		return
	}
	// Any other failure (the database is away) is no verdict: the next
	// check decides.
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.released && s.check != nil {
		s.check.Reset(s.set.limits.Recheck)
	}
}

// revoke ends the connection with 4403 and reason: its subscriptions stop,
// and a client that wants more must connect with a token that stands.
func (s *socket) revoke(reason string) { s.end(closeForbidden, reason) }

// end closes the connection with code: the close frame first, so it is
// what the client reads, then the operations stop.
func (s *socket) end(code int, reason string) {
	s.mu.Lock()
	conn, cancel := s.conn, s.cancel
	s.mu.Unlock()
	if conn != nil {
		conn.WriteClose(code, closeReason(reason))
	}
	if cancel != nil {
		cancel()
	}
}

// closeAll ends every connection, for a server that shuts down (an HTTP
// server's Shutdown does not wait for, nor close, hijacked connections),
// and refuses new ones.
func (set *sockets) closeAll() {
	set.mu.Lock()
	set.closed = true
	var all []*socket
	for _, conns := range set.byActor {
		for s := range conns {
			all = append(all, s)
		}
	}
	set.mu.Unlock()
	for _, s := range all {
		s.end(closeGoingAway, "the server is shutting down")
	}
}

// subscribe counts a subscription of the connection; false past
// PerConnection.
func (s *socket) subscribe() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs >= s.set.limits.PerConnection {
		return false
	}
	s.subs++
	return true
}

func (s *socket) unsubscribe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs--
}

// acceptor accepts WebSockets with gqlgen's coder/websocket adapter. The
// Origin is checked by the HTTP layer (httpserver's CORS), which knows the
// allowed origins; tokens travel in connection_init, not in cookies, so a
// page elsewhere gains nothing by connecting.
type acceptor struct {
	writeTimeout time.Duration
}

// Accept upgrades the connection and hands the socket that the request's
// context carries its writer, so that revoke and closeAll can close it.
func (a acceptor) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	inner := transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{InsecureSkipVerify: true}}
	conn, err := inner.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	c := &socketConn{WebsocketConn: conn, writeTimeout: a.writeTimeout}
	c.giveUp = time.AfterFunc(time.Hour, func() { conn.Close() })
	c.giveUp.Stop()
	if s := socketFrom(r.Context()); s != nil {
		s.mu.Lock()
		s.conn = c
		s.mu.Unlock()
	}
	return c, nil
}

// socketConn is a WebSocket whose writes give up: gqlgen's adapter writes
// without a deadline, so a peer that stops reading would hold the writer,
// and what waits behind it, for ever.
type socketConn struct {
	transport.WebsocketConn
	writeTimeout time.Duration
	// giveUp closes the connection when a write outlasts writeTimeout; one
	// timer, reset for each write (gqlgen writes one message at a time).
	giveUp *time.Timer
}

// WriteJSON writes a message, closing the connection if it has not left
// within writeTimeout.
func (c *socketConn) WriteJSON(v any) error {
	c.giveUp.Reset(c.writeTimeout)
	defer c.giveUp.Stop()
	return c.WebsocketConn.WriteJSON(v)
}

// SetReadLimit and SetReadDeadline pass on what gqlgen's adapter offers:
// the message size limit, and the deadline that closes a peer that does
// not answer pings.
func (c *socketConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline: see SetReadLimit.
func (c *socketConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}

// transportRule keeps each kind of operation on its transport:
// subscriptions over a WebSocket, where they can stream, and queries and
// mutations over HTTP, where deadlines, idempotency keys and the request
// log apply.
type transportRule struct{}

func (transportRule) ExtensionName() string { return "TransportRule" }

func (transportRule) Validate(graphql.ExecutableSchema) error { return nil }

func (transportRule) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	subscription := opCtx.Operation.Operation == ast.Subscription
	var err *errcode.Error
	switch ws := socketFrom(ctx) != nil; {
	case subscription && !ws:
		err = errcode.New(errcode.InvalidData, "Subscriptions run over a WebSocket at /graphql (the graphql-transport-ws protocol)")
	case !subscription && ws:
		err = errcode.New(errcode.InvalidData, "Only subscriptions run over the WebSocket; send queries and mutations by HTTP POST")
	default:
		return nil
	}
	return &gqlerror.Error{Err: err, Message: err.Message}
}

// presentingExecutor presents the errors that refuse an operation before
// it runs: gqlgen's WebSocket transport sends those of its own codes
// through the presenter, but others (the limits', the persisted
// operations') as they are.
type presentingExecutor struct {
	graphql.GraphExecutor
}

// CreateOperationContext returns the refusals of an operation presented.
func (e presentingExecutor) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	opCtx, errs := e.GraphExecutor.CreateOperationContext(ctx, params)
	if errs != nil {
		errs = e.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs).Errors
	}
	return opCtx, errs
}

// wsTransport is the WebSocket transport with the executor that presents
// refusals.
type wsTransport struct {
	transport.Websocket
}

// Supports takes WebSocket handshakes only: gqlgen's takes any Upgrade
// header (h2c's too), which then fails to upgrade.
func (t wsTransport) Supports(r *http.Request) bool { return isUpgrade(r) }

// Do serves the WebSocket with the presenting executor.
func (t wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	t.Websocket.Do(w, r, presentingExecutor{exec})
}
