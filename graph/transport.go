package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	gqlerrcode "github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"customerservice/errcode"
)

// post and get serve GraphQL over HTTP POST and GET as gqlgen's
// transport.POST and transport.GET do, but for how they write the answer:
// gqlgen's hand the whole response to encoding/json, which validates and
// copies the data the executor already wrote as JSON (6% of the server's
// CPU on a page of 100 customers); these write it as it is. And a POST
// body that is not JSON is refused without being echoed back in the error.
type (
	post struct{}
	get  struct{}
)

// setAnswerHeaders sets the headers of every answer: its media type, and
// nosniff, since the data's strings are written as they are (a "<" is not
// escaped as encoding/json would) and a browser must never read them as
// anything but JSON.
func setAnswerHeaders(w http.ResponseWriter, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
}

// Supports takes the requests transport.POST takes.
func (post) Supports(r *http.Request) bool { return transport.POST{}.Supports(r) }

// Do answers one request.
func (post) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseContentType(r.Header.Get("Accept"))
	setAnswerHeaders(w, contentType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %v", err)}))
		return
	}
	var params graphql.RawParams
	if err := decodeJSON(body, &params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("json request body could not be decoded: %v", err)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	run(w, r, exec, contentType, &params, false)
}

// Supports takes the requests transport.GET takes.
func (get) Supports(r *http.Request) bool { return transport.GET{}.Supports(r) }

// Do answers one request. Only queries run: a link or an image tag could
// otherwise send a mutation.
func (get) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	contentType := responseContentType(r.Header.Get("Accept"))
	setAnswerHeaders(w, contentType)
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, &graphql.Response{Errors: gqlerror.List{{Message: err.Error()}}})
		return
	}
	params := graphql.RawParams{Query: query.Get("query"), OperationName: query.Get("operationName"), Headers: r.Header}
	params.ReadTime.Start = graphql.Now()
	for _, p := range []struct {
		name string
		into *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		if v := query.Get(p.name); v != "" && decodeJSON([]byte(v), p.into) != nil {
			w.WriteHeader(http.StatusBadRequest)
			writeResponse(w, &graphql.Response{Errors: gqlerror.List{{Message: p.name + " could not be decoded"}}})
			return
		}
	}
	params.ReadTime.End = graphql.Now()
	run(w, r, exec, contentType, &params, true)
}

// run runs the operation params asks for and writes its answer; with
// queriesOnly, an operation that is not a query is refused with 406.
func run(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, contentType string, params *graphql.RawParams, queriesOnly bool) {
	ctx := r.Context()
	op, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		w.WriteHeader(statusOf(contentType, errs))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, op), errs))
		return
	}
	if queriesOnly && op.Operation.Operation != ast.Query {
		w.WriteHeader(http.StatusNotAcceptable)
		writeResponse(w, &graphql.Response{Errors: gqlerror.List{{Message: "GET requests only allow query operations"}}})
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, op)
	writeResponse(w, responses(ctx))
}

// decodeJSON decodes data into v as gqlgen does: numbers stay
// json.Number, so that Int and Float arguments keep their precision.
func decodeJSON(data []byte, v any) error {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	return decoder.Decode(v)
}

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// responseContentType chooses the answer's media type from the request's
// Accept header, as gqlgen's transports do: JSON unless the client names
// only the GraphQL response type, or nothing we serve.
func responseContentType(accept string) string {
	if accept == "" {
		return mediaJSON
	}
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mediaType {
		case "*/*", "application/*", mediaJSON:
			return mediaJSON
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		}
	}
	return mediaGraphQLResponse
}

// statusOf is the HTTP status of an operation refused before it ran: a
// request error (a document that does not parse or validate) is 422 in
// JSON and 400 in the GraphQL response type, as the GraphQL over HTTP
// draft asks; anything else, 200.
func statusOf(contentType string, errs gqlerror.List) int {
	if gqlerrcode.GetErrorKind(errs) != gqlerrcode.KindProtocol {
		return http.StatusOK
	}
	if contentType == mediaGraphQLResponse {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

// writeResponse writes resp as encoding/json would, its data excepted:
// the executor wrote that as JSON, and it is written as it is.
func writeResponse(w io.Writer, resp *graphql.Response) {
	if resp == nil {
		resp = &graphql.Response{}
	}
	head := []byte("{")
	var tail []byte
	var err error
	if len(resp.Errors) > 0 {
		head, err = appendMember(head, "errors", resp.Errors)
		head = append(head, ',')
	}
	head = append(head, `"data":`...)
	for _, m := range []struct {
		name    string
		present bool
		value   any
	}{
		{"label", resp.Label != "", resp.Label},
		{"path", len(resp.Path) > 0, resp.Path},
		{"hasNext", resp.HasNext != nil, resp.HasNext},
		{"extensions", len(resp.Extensions) > 0, resp.Extensions},
	} {
		if m.present && err == nil {
			tail, err = appendMember(append(tail, ','), m.name, m.value)
		}
	}
	if err != nil {
		// No resolver of ours puts a value encoding/json refuses in an
		// error or an extension; gqlgen would panic.
		io.WriteString(w, `{"errors":[{"message":"internal error","extensions":{"code":"`+string(errcode.Internal)+`"}}],"data":null}`)
		return
	}
	w.Write(head)
	if resp.Data == nil {
		io.WriteString(w, "null")
	} else {
		w.Write(resp.Data)
	}
	w.Write(append(tail, '}'))
}

// appendMember appends "name":value to b.
func appendMember(b []byte, name string, value any) ([]byte, error) {
	encoded, err := json.Marshal(value)
	if err != nil {
		return b, err
	}
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return append(b, encoded...), nil
}
