package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"customerservice/errcode"
)

// persisted resolves the documents clients send by id instead of text.
//
// By default these are Apollo's automatic persisted queries: a client sends
// the SHA-256 of its document, and the document itself only when the server
// answers PERSISTED_QUERY_NOT_FOUND; the server keeps it, once it has
// validated, in a cache bounded in bytes.
//
// With a manifest (Options.TrustedDocuments, from PERSISTED_OPERATIONS),
// the server runs the manifest's documents and nothing else: by id, or by
// their exact text. A document an attacker writes never reaches the parser,
// which is how the largest public GraphQL APIs meet hostile documents.
type persisted struct {
	apq *boundedCache[string] // nil in trusted mode
	// trusted maps a manifest's ids to their documents; texts holds the
	// documents themselves.
	trusted map[string]string
	texts   map[string]bool
}

func newPersisted(trusted map[string]string) *persisted {
	if trusted == nil {
		return &persisted{apq: newBoundedCache(persistedCacheBudget, func(id, q string) int { return len(id) + len(q) + 256 })}
	}
	p := &persisted{trusted: trusted, texts: make(map[string]bool, len(trusted))}
	for _, doc := range trusted {
		p.texts[doc] = true
	}
	return p
}

func (*persisted) ExtensionName() string { return "PersistedOperations" }

func (*persisted) Validate(graphql.ExecutableSchema) error { return nil }

// pendingKey names the hash of a document sent with its text, kept in the
// operation's stats until the document has validated.
const pendingKey = "persisted.pending"

func (p *persisted) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	id, err := persistedID(params.Extensions)
	if err != nil {
		return limitError("GRAPHQL_VALIDATION_FAILED", "%v", err)
	}
	if p.trusted != nil {
		switch doc, ok := p.trusted[id]; {
		case ok:
			params.Query = doc
		case id == "" && p.texts[params.Query]:
		default:
			return limitError(errcode.PersistedQueryNotInList,
				"This server runs only the operations of its persisted-operations manifest; send one by its id")
		}
		return nil
	}
	if id == "" {
		return nil
	}
	if params.Query == "" {
		q, ok := p.apq.Get(ctx, id)
		if !ok {
			// Apollo's link looks for this message as much as the code.
			return limitError(errcode.PersistedQueryNotFound, "PersistedQueryNotFound")
		}
		params.Query = q
		return nil
	}
	if hashOf(params.Query) != id {
		return limitError("GRAPHQL_VALIDATION_FAILED", "the persistedQuery sha256Hash is not the SHA-256 of the query")
	}
	graphql.GetOperationContext(ctx).Stats.SetExtension(pendingKey, id)
	return nil
}

// MutateOperationContext keeps a document sent with its hash, now that it
// has parsed and validated: a cache of documents that fail would only serve
// their failures.
func (p *persisted) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if id, ok := opCtx.Stats.GetExtension(pendingKey).(string); ok && p.apq != nil {
		p.apq.Add(ctx, id, opCtx.RawQuery)
	}
	return nil
}

func hashOf(query string) string {
	sum := sha256.Sum256([]byte(query))
	return hex.EncodeToString(sum[:])
}

// persistedID returns the id of extensions.persistedQuery (Apollo's
// protocol, version 1), or "" when there is none.
func persistedID(extensions map[string]any) (string, error) {
	raw, ok := extensions["persistedQuery"]
	if !ok || raw == nil {
		return "", nil
	}
	pq, ok := raw.(map[string]any)
	if !ok {
		return "", errors.New("extensions.persistedQuery must be an object")
	}
	version := ""
	switch v := pq["version"].(type) {
	case json.Number: // gqlgen decodes with UseNumber
		version = v.String()
	case float64:
		version = fmt.Sprint(v)
	}
	if version != "1" {
		return "", errors.New("extensions.persistedQuery.version must be 1")
	}
	id, _ := pq["sha256Hash"].(string)
	if id == "" || len(id) > 128 {
		return "", errors.New("extensions.persistedQuery.sha256Hash must be a hash")
	}
	return id, nil
}

// ParseManifest reads a persisted-operations manifest: Apollo's
// ({"format": "apollo-persisted-query-manifest", "version": 1,
// "operations": [{"id", "body", ...}]}) or Relay's ({"<id>": "<document>"}),
// and returns its documents by id.
func ParseManifest(data []byte) (map[string]string, error) {
	var apollo struct {
		Format     string `json:"format"`
		Version    int    `json:"version"`
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(data, &apollo); err == nil && apollo.Format == "apollo-persisted-query-manifest" {
		if apollo.Version != 1 {
			return nil, fmt.Errorf("apollo-persisted-query-manifest version %d; this server reads version 1", apollo.Version)
		}
		docs := make(map[string]string, len(apollo.Operations))
		for i, op := range apollo.Operations {
			if op.ID == "" || op.Body == "" {
				return nil, fmt.Errorf("operation %d has no id or no body", i)
			}
			docs[op.ID] = op.Body
		}
		return docs, nil
	}
	var relay map[string]string
	if err := json.Unmarshal(data, &relay); err != nil {
		return nil, errors.New(`neither Apollo's manifest ({"format": "apollo-persisted-query-manifest", ...}) nor Relay's ({"<id>": "<document>"})`)
	}
	for id, doc := range relay {
		if id == "" || doc == "" {
			return nil, errors.New("an entry has no id or no document")
		}
	}
	return relay, nil
}
