package httpserver

import (
	"encoding/json"
	"net/http"

	"customerservice/errcode"
)

// withCodes returns a GraphQL error answer with an extensions.code (and
// Medusa's extensions.type) on every error. The GraphQL errors pass the one
// error presenter, but gqlgen's transports write a few of their own without
// one, such as 406 for a mutation sent by GET; a client that switches on
// codes must find one whatever the status. Answers that are not such JSON
// pass as they are.
func withCodes(status int, body []byte) []byte {
	if status < 400 {
		return body
	}
	var answer map[string]json.RawMessage
	if json.Unmarshal(body, &answer) != nil {
		return body
	}
	var errs []map[string]any
	if json.Unmarshal(answer["errors"], &errs) != nil || len(errs) == 0 {
		return body
	}
	changed := false
	for _, e := range errs {
		ext, _ := e["extensions"].(map[string]any)
		if _, ok := ext["code"]; ok {
			continue
		}
		if ext == nil {
			ext = map[string]any{}
			e["extensions"] = ext
		}
		code := codeForStatus(status)
		ext["code"], ext["type"] = string(code), code.Type()
		changed = true
	}
	if !changed {
		return body
	}
	answer["errors"], _ = json.Marshal(errs)
	out, err := json.Marshal(answer)
	if err != nil {
		return body
	}
	return out
}

// codeForStatus is the code of an error that came with only a status.
func codeForStatus(status int) errcode.Code {
	switch {
	case status == http.StatusMethodNotAllowed, status == http.StatusNotAcceptable:
		return errcode.NotAllowed
	case status == http.StatusRequestEntityTooLarge:
		return errcode.PayloadTooLarge
	case status == http.StatusServiceUnavailable:
		return errcode.Unavailable
	case status >= 500:
		return errcode.Internal
	}
	return errcode.InvalidData
}
