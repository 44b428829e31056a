// Package gqlws is a small client of the graphql-transport-ws protocol
// (the graphql-ws npm package's), over github.com/coder/websocket: what the
// tests and the load driver use to subscribe to a server as a client
// would.
package gqlws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/coder/websocket"
)

// Subprotocol is the protocol's name, which client and server agree on
// when the WebSocket opens.
const Subprotocol = "graphql-transport-ws"

// Message is a message of the protocol.
type Message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Result is the payload of a next message.
type Result struct {
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Error is a GraphQL error as a client sees it.
type Error struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns the error's extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Conn is a connection that the server acknowledged.
type Conn struct {
	ws *websocket.Conn
}

// Options tune Dial.
type Options struct {
	// Header is sent with the upgrade request (an Origin, say).
	Header http.Header
	// HTTPClient dials; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Payload is connection_init's payload; {"Authorization": authorization}
	// when nil.
	Payload map[string]any
}

// Dial opens a WebSocket to url (http:// or ws://), sends connection_init
// with {"Authorization": authorization} (no payload when it is empty) and
// waits for connection_ack. A refusal is an error whose CloseStatus is the
// server's close code.
func Dial(ctx context.Context, url, authorization string, opts *Options) (*Conn, error) {
	if opts == nil {
		opts = &Options{}
	}
	url = strings.Replace(strings.Replace(url, "http://", "ws://", 1), "https://", "wss://", 1)
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{Subprotocol}, HTTPHeader: opts.Header, HTTPClient: opts.HTTPClient,
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", url, err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	// Events carry rows; the default of 32 KiB is too little for some.
	ws.SetReadLimit(16 << 20)
	c := &Conn{ws: ws}
	payload := opts.Payload
	if payload == nil && authorization != "" {
		payload = map[string]any{"Authorization": authorization}
	}
	init := Message{Type: "connection_init"}
	if payload != nil {
		if init.Payload, err = json.Marshal(payload); err != nil {
			ws.CloseNow()
			return nil, err
		}
	}
	if err := c.send(ctx, init); err != nil {
		ws.CloseNow()
		return nil, err
	}
	for {
		m, err := c.Read(ctx)
		if err != nil {
			ws.CloseNow()
			return nil, err
		}
		if m.Type == "connection_ack" {
			return c, nil
		}
	}
}

// Subscribe starts the operation query with vars under id.
func (c *Conn) Subscribe(ctx context.Context, id, query string, vars map[string]any) error {
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	return c.send(ctx, Message{ID: id, Type: "subscribe", Payload: payload})
}

// Complete stops the operation id.
func (c *Conn) Complete(ctx context.Context, id string) error {
	return c.send(ctx, Message{ID: id, Type: "complete"})
}

// Read returns the next message that is not a ping or a pong, answering
// pings as the protocol asks.
func (c *Conn) Read(ctx context.Context) (Message, error) {
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return Message{}, err
		}
		var m Message
		if err := json.Unmarshal(data, &m); err != nil {
			return Message{}, fmt.Errorf("a message that is not JSON: %w", err)
		}
		switch m.Type {
		case "ping":
			if err := c.send(ctx, Message{Type: "pong"}); err != nil {
				return Message{}, err
			}
		case "pong":
		default:
			return m, nil
		}
	}
}

// Close closes the connection normally.
func (c *Conn) Close() error { return c.ws.Close(websocket.StatusNormalClosure, "") }

// CloseNow closes the connection without the closing handshake.
func (c *Conn) CloseNow() error { return c.ws.CloseNow() }

func (c *Conn) send(ctx context.Context, m Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.ws.Write(ctx, websocket.MessageText, data)
}

// CloseStatus returns the close code of the error that ended a connection,
// -1 when it was not closed by a close frame.
func CloseStatus(err error) int { return int(websocket.CloseStatus(err)) }

// CloseReason returns the reason of the close frame that ended a
// connection, "" when there was none.
func CloseReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}
