package httpserver

import (
	"net/http"
	"slices"
)

// allowedHeaders are the request headers a browser may send: this API's,
// and those mainstream clients add (Apollo Client's name and version, W3C
// trace context).
const allowedHeaders = "Authorization, Content-Type, Accept, Idempotency-Key, X-Request-Id, " +
	"Apollographql-Client-Name, Apollographql-Client-Version, Traceparent, Tracestate"

// cors lets browser storefronts on the allowed origins call the endpoint.
// Tokens travel in the Authorization header, never in cookies, so no
// credentials are allowed and "*" is safe where the operator wants it.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.cfg.CORSOrigins) == 0 {
		return next
	}
	any := slices.Contains(s.cfg.CORSOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && (any || slices.Contains(s.cfg.CORSOrigins, origin)) {
			h := w.Header()
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "X-Request-Id, Idempotent-Replayed")
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
