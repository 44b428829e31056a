package graph

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	gqlerrcode "github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"customerservice/errcode"
)

// post serves GraphQL over HTTP POST as gqlgen's transport.POST does, with
// two differences. It writes the answer's data as the executor wrote it:
// transport.POST hands the whole response to encoding/json, which
// validates and copies the data again (6% of the server's CPU on a page of
// 100 customers). And a body that is not JSON is refused without being
// echoed back in the error.
type post struct{}

// Supports takes the requests transport.POST takes.
func (post) Supports(r *http.Request) bool { return transport.POST{}.Supports(r) }

// Do answers one request.
func (post) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	ctx := r.Context()
	contentType := responseContentType(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", contentType)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("could not read request body: %v", err)}))
		return
	}
	var params graphql.RawParams
	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.UseNumber()
	if err := decoder.Decode(&params); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		writeResponse(w, exec.DispatchError(ctx, gqlerror.List{gqlerror.Errorf("json request body could not be decoded: %v", err)}))
		return
	}
	params.Headers = r.Header
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	op, errs := exec.CreateOperationContext(ctx, &params)
	if errs != nil {
		w.WriteHeader(statusOf(contentType, errs))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(ctx, op), errs))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, op)
	writeResponse(w, responses(ctx))
}

const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// responseContentType chooses the answer's media type from the request's
// Accept header, as transport.POST does: JSON unless the client names
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
