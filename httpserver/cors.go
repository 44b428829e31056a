package httpserver

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"customerservice/errcode"
)

// allowedHeaders are the request headers a browser may send: this API's,
// and those mainstream clients add (Apollo Client's name and version, W3C
// trace context).
const allowedHeaders = "Authorization, Content-Type, Accept, Idempotency-Key, X-Request-Id, X-Consistency-Token, " +
	"Apollographql-Client-Name, Apollographql-Client-Version, Traceparent, Tracestate"

// cors lets browser storefronts on the allowed origins call the endpoint.
// Tokens travel in the Authorization header, never in cookies, so no
// credentials are allowed and "*" is safe where the operator wants it.
//
// Browsers do not apply CORS to WebSockets: a page on any origin may open
// one, and the server must look at its Origin itself. An upgrade is let
// through from the allowed origins ("*" for any, the local default), from
// the server's own, and from clients that are not browsers (no Origin);
// others are refused with 403.
func (s *Server) cors(next http.Handler) http.Handler {
	any := slices.Contains(s.cfg.CORSOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if isWebSocket(r) {
			if origin != "" && !any && !slices.Contains(s.cfg.CORSOrigins, origin) && !sameOrigin(origin, r.Host) {
				writeError(w, r, http.StatusForbidden, errcode.NotAllowed, "WebSockets from this origin are not allowed (CORS_ORIGINS)")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if len(s.cfg.CORSOrigins) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		if origin != "" && (any || slices.Contains(s.cfg.CORSOrigins, origin)) {
			h := w.Header()
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Idempotent-Replayed, X-Consistency-Token")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", allowedHeaders)
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether origin is the server's own: a page it served
// (the Playground) connecting back to it.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}
